//! permessage-deflate negotiation (RFC 7692 5 and 7.1), both sides, to the letter.
//!
//! A client offers one or more parameter sets in order (`Offer`); a server accepts the first it
//! can honour under its `ServerPolicy` and declines the rest, as 5 says (an unknown or repeated
//! parameter, or a bad value, declines that offer; it does not refuse the upgrade). The client
//! then checks the answer against what it offered: every rule a server can break is a line
//! that says which. Both ends end with one `Agreed`, which the codec runs on.

use std::fmt;

pub const NAME: &str = "permessage-deflate";
const SNT: &str = "server_no_context_takeover";
const CNT: &str = "client_no_context_takeover";
const SMWB: &str = "server_max_window_bits";
const CMWB: &str = "client_max_window_bits";

/// One parameter set a client offers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Offer {
    pub server_no_context_takeover: bool,
    pub client_no_context_takeover: bool,
    /// The largest window we let the server compress with.
    pub server_max_window_bits: Option<u8>,
    /// Offered at all (we can take a server's limit), and with which largest value.
    pub client_max_window_bits: Option<Option<u8>>,
}

/// What the server insists on or allows (`echo-server --compress-params`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerPolicy {
    pub server_no_context_takeover: bool,
    pub client_no_context_takeover: bool,
    pub server_max_window_bits: Option<u8>,
    pub client_max_window_bits: Option<u8>,
}

/// The parameters both ends run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Agreed {
    pub server_no_context_takeover: bool,
    pub client_no_context_takeover: bool,
    pub server_max_window_bits: u8,
    pub client_max_window_bits: u8,
    /// The answer carried client_max_window_bits (for showing it as it was sent).
    said_client_bits: bool,
    said_server_bits: bool,
}

impl fmt::Display for Agreed {
    /// The extension as the server's answer states it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(NAME)?;
        if self.server_no_context_takeover {
            write!(f, "; {SNT}")?;
        }
        if self.client_no_context_takeover {
            write!(f, "; {CNT}")?;
        }
        if self.said_server_bits {
            write!(f, "; {SMWB}={}", self.server_max_window_bits)?;
        }
        if self.said_client_bits {
            write!(f, "; {CMWB}={}", self.client_max_window_bits)?;
        }
        Ok(())
    }
}

impl fmt::Display for Offer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(NAME)?;
        if self.server_no_context_takeover {
            write!(f, "; {SNT}")?;
        }
        if self.client_no_context_takeover {
            write!(f, "; {CNT}")?;
        }
        if let Some(b) = self.server_max_window_bits {
            write!(f, "; {SMWB}={b}")?;
        }
        match self.client_max_window_bits {
            Some(Some(b)) => write!(f, "; {CMWB}={b}")?,
            Some(None) => write!(f, "; {CMWB}")?,
            None => {}
        }
        Ok(())
    }
}

impl Agreed {
    /// The window (bits) the given role compresses with.
    pub fn compress_bits(&self, server: bool) -> u8 {
        if server {
            self.server_max_window_bits
        } else {
            self.client_max_window_bits
        }
    }

    /// Whether the given role's compressor starts afresh for every message.
    pub fn compress_resets(&self, server: bool) -> bool {
        if server {
            self.server_no_context_takeover
        } else {
            self.client_no_context_takeover
        }
    }

    /// What the peer of the given role compresses with (we inflate with that window).
    pub fn inflate_bits(&self, server: bool) -> u8 {
        self.compress_bits(!server)
    }

    pub fn inflate_resets(&self, server: bool) -> bool {
        self.compress_resets(!server)
    }
}

/// One `name[=value]` of an extension element; a quoted value is unquoted (RFC 7692 7: a
/// value may be a token or a quoted-string, and must conform to the grammar either way).
fn params(element: &str) -> Vec<(String, Option<String>)> {
    element
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => {
                let v = v.trim();
                let v = v
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(v);
                (k.trim().to_ascii_lowercase(), Some(v.to_string()))
            }
            None => (p.to_ascii_lowercase(), None),
        })
        .collect()
}

/// A window-bits value: 8 to 15, digits only, no leading zero (RFC 7692 7.1.2).
fn window_bits(name: &str, v: &str) -> Result<u8, String> {
    match v.parse::<u8>() {
        Ok(b @ 8..=15) if !v.starts_with('0') && v.bytes().all(|c| c.is_ascii_digit()) => Ok(b),
        _ => Err(format!("{name}={v:?} is out of range (8 to 15)")),
    }
}

fn once(seen: &mut Vec<String>, name: &str) -> Result<(), String> {
    if seen.iter().any(|s| s == name) {
        return Err(format!("{name} appears twice"));
    }
    seen.push(name.to_string());
    Ok(())
}

fn no_value(name: &str, v: &Option<String>) -> Result<(), String> {
    match v {
        None => Ok(()),
        Some(v) => Err(format!("{name} takes no value, got {v:?}")),
    }
}

impl Offer {
    /// `--compress PARAMS`: the parameters, optionally after the extension's name.
    pub fn parse(s: &str) -> Result<Offer, String> {
        let s = s.trim();
        let s = match s.split_once(';') {
            Some((first, rest)) if first.trim().eq_ignore_ascii_case(NAME) => rest,
            None if s.eq_ignore_ascii_case(NAME) => "",
            _ => s,
        };
        Self::from_params(s)
    }

    /// The parameters of one offer, as a server reads them: any error declines the offer.
    fn from_params(s: &str) -> Result<Offer, String> {
        let mut offer = Offer::default();
        let mut seen = Vec::new();
        for (name, v) in params(s) {
            once(&mut seen, &name)?;
            match name.as_str() {
                SNT => {
                    no_value(&name, &v)?;
                    offer.server_no_context_takeover = true;
                }
                CNT => {
                    no_value(&name, &v)?;
                    offer.client_no_context_takeover = true;
                }
                SMWB => match v {
                    Some(v) => offer.server_max_window_bits = Some(window_bits(&name, &v)?),
                    None => return Err(format!("{SMWB} needs a value (8 to 15)")),
                },
                CMWB => {
                    offer.client_max_window_bits = Some(match v {
                        Some(v) => Some(window_bits(&name, &v)?),
                        None => None,
                    })
                }
                other => return Err(format!("unknown parameter {other:?}")),
            }
        }
        Ok(offer)
    }

    /// Check a server's answer (the one permessage-deflate element's parameters) against this
    /// offer (RFC 7692 7.1.1.1 to 7.1.2.2).
    fn check_answer(&self, answer: &str) -> Result<Agreed, String> {
        let mut agreed = Agreed {
            server_no_context_takeover: false,
            client_no_context_takeover: self.client_no_context_takeover,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            said_client_bits: false,
            said_server_bits: false,
        };
        let mut seen = Vec::new();
        for (name, v) in params(answer) {
            once(&mut seen, &name)?;
            match name.as_str() {
                SNT => {
                    no_value(&name, &v)?;
                    agreed.server_no_context_takeover = true;
                }
                CNT => {
                    no_value(&name, &v)?;
                    agreed.client_no_context_takeover = true;
                }
                SMWB => {
                    let Some(v) = v else {
                        return Err(format!("{SMWB} without a value"));
                    };
                    let b = window_bits(&name, &v)?;
                    if let Some(max) = self.server_max_window_bits
                        && b > max
                    {
                        return Err(format!("{SMWB}={b} is larger than the {max} we allowed"));
                    }
                    agreed.server_max_window_bits = b;
                    agreed.said_server_bits = true;
                }
                CMWB => {
                    let Some(offered) = self.client_max_window_bits else {
                        return Err(format!("{CMWB}, which we did not offer"));
                    };
                    let Some(v) = v else {
                        return Err(format!("{CMWB} without a value"));
                    };
                    let b = window_bits(&name, &v)?;
                    if let Some(max) = offered
                        && b > max
                    {
                        return Err(format!("{CMWB}={b} is larger than the {max} we offered"));
                    }
                    agreed.client_max_window_bits = b;
                    agreed.said_client_bits = true;
                }
                other => return Err(format!("parameter {other:?}, which we did not offer")),
            }
        }
        if self.server_no_context_takeover && !agreed.server_no_context_takeover {
            // 7.1.1.1: a server that accepts this offer must include it.
            return Err(format!("no {SNT}, which we asked for"));
        }
        if !agreed.said_client_bits
            && let Some(Some(b)) = self.client_max_window_bits
        {
            // We said we would use at most `b` bits: hold to it.
            agreed.client_max_window_bits = b;
        }
        Ok(agreed)
    }
}

/// The `Sec-WebSocket-Extensions` value of a client's offers.
pub fn offer_header(offers: &[Offer]) -> String {
    offers
        .iter()
        .map(Offer::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The extension elements of every `Sec-WebSocket-Extensions` value, in order.
pub fn elements<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    values
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect()
}

fn name_of(element: &str) -> &str {
    element.split(';').next().unwrap_or("").trim()
}

/// A client's check of the server's answer: `Ok(None)` when the server enabled nothing,
/// `Err` with what was wrong (an extension we did not offer, a parameter we did not offer, a
/// value out of range or over what we allowed).
pub fn check_answer(offers: &[Offer], elements: &[&str]) -> Result<Option<Agreed>, String> {
    let Some(first) = elements.first() else {
        return Ok(None);
    };
    if let Some(other) = elements
        .iter()
        .find(|e| !name_of(e).eq_ignore_ascii_case(NAME))
    {
        return Err(format!(
            "the server enabled an extension we did not offer: {other}"
        ));
    }
    if offers.is_empty() {
        return Err(format!(
            "the server enabled {NAME}, which we did not offer (add --compress)"
        ));
    }
    if elements.len() > 1 {
        return Err(format!(
            "the server enabled {NAME} {} times",
            elements.len()
        ));
    }
    let params = first.split_once(';').map(|(_, p)| p).unwrap_or("");
    let mut first_err = None;
    for offer in offers {
        match offer.check_answer(params) {
            Ok(agreed) => return Ok(Some(agreed)),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    Err(format!(
        "the server's {NAME} answer is invalid: {}",
        first_err.unwrap_or_default()
    ))
}

impl ServerPolicy {
    /// `--compress-params`: what the server insists on (no context takeover) or allows at most
    /// (window bits).
    pub fn parse(s: &str) -> Result<ServerPolicy, String> {
        let o = Offer::from_params(s)?;
        Ok(ServerPolicy {
            server_no_context_takeover: o.server_no_context_takeover,
            client_no_context_takeover: o.client_no_context_takeover,
            server_max_window_bits: o.server_max_window_bits,
            client_max_window_bits: match o.client_max_window_bits {
                Some(Some(b)) => Some(b),
                Some(None) => return Err(format!("{CMWB} needs a value here (8 to 15)")),
                None => None,
            },
        })
    }

    /// The first offer we can accept, as the agreement (its `Display` is the answer's header
    /// value), or `None` to decline them all. Offers that break the grammar are declined, as
    /// RFC 7692 5 says; the reasons are returned for the log.
    pub fn accept(&self, elements: &[&str]) -> (Option<Agreed>, Vec<String>) {
        let mut declined = Vec::new();
        for e in elements {
            if !name_of(e).eq_ignore_ascii_case(NAME) {
                continue;
            }
            let params = e.split_once(';').map(|(_, p)| p).unwrap_or("");
            match Offer::from_params(params) {
                Ok(offer) => return (Some(self.answer(&offer)), declined),
                Err(why) => declined.push(format!("declined {e:?}: {why}")),
            }
        }
        (None, declined)
    }

    fn answer(&self, offer: &Offer) -> Agreed {
        let min = |a: Option<u8>, b: Option<u8>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let server_bits = min(offer.server_max_window_bits, self.server_max_window_bits);
        // 7.1.2.2: client_max_window_bits may be answered only when it was offered.
        let client_bits = match offer.client_max_window_bits {
            Some(offered) => min(offered, self.client_max_window_bits),
            None => None,
        };
        Agreed {
            server_no_context_takeover: offer.server_no_context_takeover
                || self.server_no_context_takeover,
            client_no_context_takeover: offer.client_no_context_takeover
                || self.client_no_context_takeover,
            server_max_window_bits: server_bits.unwrap_or(15),
            client_max_window_bits: client_bits.unwrap_or(15),
            said_server_bits: server_bits.is_some(),
            said_client_bits: client_bits.is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(s: &str) -> Offer {
        Offer::parse(s).unwrap()
    }

    #[test]
    fn offers_parse_and_print() {
        let o = offer("client_max_window_bits=10; server_no_context_takeover");
        assert_eq!(o.client_max_window_bits, Some(Some(10)));
        assert!(o.server_no_context_takeover);
        assert_eq!(
            o.to_string(),
            "permessage-deflate; server_no_context_takeover; client_max_window_bits=10"
        );
        assert_eq!(offer("").to_string(), "permessage-deflate");
        assert_eq!(
            offer("permessage-deflate; client_max_window_bits"),
            Offer {
                client_max_window_bits: Some(None),
                ..Offer::default()
            }
        );
        assert_eq!(
            offer("server_max_window_bits=\"9\"").server_max_window_bits,
            Some(9)
        );
        for bad in [
            "server_max_window_bits=7",
            "server_max_window_bits=16",
            "server_max_window_bits=010",
            "server_max_window_bits",
            "client_max_window_bits=x",
            "server_no_context_takeover=1",
            "server_no_context_takeover; server_no_context_takeover",
            "x=1",
        ] {
            assert!(Offer::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn client_checks_the_answer_to_the_letter() {
        let plain = [offer("")];
        let a = check_answer(&plain, &["permessage-deflate"])
            .unwrap()
            .unwrap();
        assert_eq!(
            (a.server_max_window_bits, a.client_max_window_bits),
            (15, 15)
        );
        assert_eq!(check_answer(&plain, &[]).unwrap(), None);
        let cases = [
            (
                "permessage-deflate; client_max_window_bits=10",
                "did not offer",
            ),
            (
                "permessage-deflate; server_max_window_bits=16",
                "out of range",
            ),
            ("permessage-deflate; foo", "did not offer"),
            ("x-webkit-deflate-frame", "did not offer"),
            (
                "permessage-deflate; server_no_context_takeover=1",
                "no value",
            ),
        ];
        for (answer, why) in cases {
            let e = check_answer(&plain, &[answer]).unwrap_err();
            assert!(e.contains(why), "{answer}: {e}");
        }
        let limited = [offer(
            "server_max_window_bits=10; client_max_window_bits=12",
        )];
        let e =
            check_answer(&limited, &["permessage-deflate; server_max_window_bits=11"]).unwrap_err();
        assert!(e.contains("larger than the 10 we allowed"), "{e}");
        let e =
            check_answer(&limited, &["permessage-deflate; client_max_window_bits=13"]).unwrap_err();
        assert!(e.contains("larger than the 12"), "{e}");
        let a = check_answer(&limited, &["permessage-deflate; server_max_window_bits=9"])
            .unwrap()
            .unwrap();
        assert_eq!(
            (a.server_max_window_bits, a.client_max_window_bits),
            (9, 12)
        );
        let e = check_answer(&[], &["permessage-deflate"]).unwrap_err();
        assert!(e.contains("did not offer"), "{e}");
        let snt = [offer("server_no_context_takeover")];
        assert!(check_answer(&snt, &["permessage-deflate"]).is_err());
        // Several offers: the answer may match any of them.
        let two = [offer("server_max_window_bits=9"), offer("")];
        let a = check_answer(&two, &["permessage-deflate; server_max_window_bits=12"]);
        assert_eq!(a.unwrap().unwrap().server_max_window_bits, 12);
    }

    #[test]
    fn server_accepts_the_first_valid_offer() {
        let p = ServerPolicy::default();
        let (a, declined) = p.accept(&[
            "permessage-deflate; server_max_window_bits=20",
            "permessage-deflate; client_max_window_bits; server_max_window_bits=10",
        ]);
        let a = a.unwrap();
        assert_eq!(declined.len(), 1, "{declined:?}");
        assert_eq!(
            a.to_string(),
            "permessage-deflate; server_max_window_bits=10"
        );
        assert_eq!(a.client_max_window_bits, 15);
        let p = ServerPolicy::parse(
            "server_no_context_takeover; client_no_context_takeover; client_max_window_bits=9; server_max_window_bits=11",
        )
        .unwrap();
        let a = p
            .accept(&["permessage-deflate; client_max_window_bits"])
            .0
            .unwrap();
        assert_eq!(
            a.to_string(),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11; client_max_window_bits=9"
        );
        // Without client_max_window_bits in the offer the server may not limit the client.
        let a = p.accept(&["permessage-deflate"]).0.unwrap();
        assert_eq!(a.client_max_window_bits, 15);
        assert!(!a.to_string().contains("client_max_window_bits"));
        assert_eq!(p.accept(&["x-other", "permessage-deflate; x=1"]).0, None);
        // What a server answers, a client accepts.
        let o = offer("client_max_window_bits");
        let back = check_answer(&[o], &[a.to_string().as_str()])
            .unwrap()
            .unwrap();
        assert_eq!(back.server_max_window_bits, 11);
    }
}
