//! One stream of stop requests for every command, in the spirit of mini-redis's `shutdown.rs`:
//! Ctrl-C (SIGINT), SIGTERM, SIGHUP, and Ctrl-C typed as a key while a terminal is raw all
//! move one process-wide state machine, and every task that must stop holds its own
//! [`Shutdown`] to wait on it.
//!
//! The first SIGINT or SIGTERM asks for a graceful stop: close with 1000, drain, print the
//! summary so far. A second signal, or a hangup (the terminal is gone, so nobody would see a
//! drain), asks to stop at once; commands then skip what is left to wait for and exit with 130.
//! What a graceful stop means, and which exit code it gets, stays each command's own.

use std::sync::{LazyLock, Once};
use tokio::sync::watch;

/// What asked us to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT, or Ctrl-C read as a key.
    Interrupt,
    Terminate,
    Hangup,
}

/// How far the process is on its way out. Later levels include the earlier ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stop {
    #[default]
    Running,
    /// Finish politely: close, drain, report.
    Graceful,
    /// Stop waiting for anything and exit.
    Immediate,
}

impl Stop {
    /// The one state machine: where the process is after `signal`.
    pub fn after(self, signal: Signal) -> Stop {
        match (self, signal) {
            (_, Signal::Hangup) => Stop::Immediate,
            (Stop::Running, Signal::Interrupt | Signal::Terminate) => Stop::Graceful,
            _ => Stop::Immediate,
        }
    }
}

/// The state every [`Shutdown`] watches; the process has one (see [`subscribe`]).
pub struct Hub {
    state: watch::Sender<Stop>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            state: watch::Sender::new(Stop::Running),
        }
    }
}

impl Hub {
    pub fn raise(&self, signal: Signal) {
        self.state.send_modify(|s| *s = s.after(signal));
    }

    /// A new subscriber starts from `Running`, so that a stop asked for before it existed is
    /// still seen: no signal is lost between one stage of a command and the next.
    pub fn subscribe(&self) -> Shutdown {
        Shutdown {
            state: self.state.subscribe(),
            seen: Stop::Running,
        }
    }
}

/// One task's view of the stop requests. Waiting is cancel-safe, so it can sit in a `select!`
/// loop: a signal that arrives between two turns is seen on the next one.
pub struct Shutdown {
    state: watch::Receiver<Stop>,
    seen: Stop,
}

impl Shutdown {
    /// The next step: `Graceful` once, then `Immediate`. Once the stop is immediate every call
    /// returns at once, so no wait can outlast it.
    pub async fn recv(&mut self) -> Stop {
        let seen = self.seen;
        let reached = self
            .state
            .wait_for(|s| *s > seen || *s == Stop::Immediate)
            .await
            .map(|s| *s);
        let Ok(now) = reached else {
            // The hub is gone (only in tests): nothing will ever ask us to stop.
            return std::future::pending().await;
        };
        self.seen = now;
        now
    }

    /// Wait until the stop is immediate, whatever was seen before.
    pub async fn immediate(&mut self) {
        while self.recv().await != Stop::Immediate {}
    }

    pub fn current(&self) -> Stop {
        *self.state.borrow()
    }
}

static HUB: LazyLock<Hub> = LazyLock::new(Hub::default);
static LISTEN: Once = Once::new();

/// This process's stop requests. The first call (inside the runtime, before the command does
/// any I/O) installs the signal handlers; until then the signals keep their default action.
pub fn subscribe() -> Shutdown {
    LISTEN.call_once(listen);
    HUB.subscribe()
}

/// A signal that did not come from the OS, such as Ctrl-C read as a key in raw mode.
pub fn raise(signal: Signal) {
    HUB.raise(signal);
}

/// One task per signal, each feeding the process-wide hub.
#[cfg(unix)]
fn listen() {
    use tokio::signal::unix::{SignalKind, signal};
    let kinds = [
        (SignalKind::interrupt(), Signal::Interrupt),
        (SignalKind::terminate(), Signal::Terminate),
        (SignalKind::hangup(), Signal::Hangup),
    ];
    for (kind, sig) in kinds {
        // Under nohup SIGHUP is ignored on purpose; a handler would undo that.
        if sig == Signal::Hangup && ignored(libc::SIGHUP) {
            continue;
        }
        // Registered here, not in the task, so that a signal right after this call is caught.
        let Ok(mut stream) = signal(kind) else {
            continue;
        };
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                raise(sig);
            }
        });
    }
}

#[cfg(not(unix))]
fn listen() {
    tokio::spawn(async {
        while tokio::signal::ctrl_c().await.is_ok() {
            raise(Signal::Interrupt);
        }
    });
}

#[cfg(unix)]
fn ignored(sig: libc::c_int) -> bool {
    // SAFETY: a null `act` only reads the current disposition into `old`.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) };
    rc == 0 && old.sa_sigaction == libc::SIG_IGN
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    #[test]
    fn first_signal_is_graceful_the_second_immediate() {
        for first in [Signal::Interrupt, Signal::Terminate] {
            let s = Stop::Running.after(first);
            assert_eq!(s, Stop::Graceful);
            for second in [Signal::Interrupt, Signal::Terminate, Signal::Hangup] {
                assert_eq!(s.after(second), Stop::Immediate);
            }
        }
        assert_eq!(Stop::Running.after(Signal::Hangup), Stop::Immediate);
        assert_eq!(Stop::Immediate.after(Signal::Interrupt), Stop::Immediate);
    }

    #[test]
    fn each_step_is_received_once_and_immediate_for_good() {
        let hub = Hub::default();
        let mut a = hub.subscribe();
        assert_eq!(a.recv().now_or_never(), None, "nothing asked yet");
        hub.raise(Signal::Interrupt);
        assert_eq!(a.recv().now_or_never(), Some(Stop::Graceful));
        assert_eq!(a.recv().now_or_never(), None, "graceful is seen once");
        hub.raise(Signal::Terminate);
        assert_eq!(a.recv().now_or_never(), Some(Stop::Immediate));
        assert_eq!(a.recv().now_or_never(), Some(Stop::Immediate));
        assert_eq!(a.current(), Stop::Immediate);
    }

    #[test]
    fn a_late_subscriber_still_sees_the_stop() {
        let hub = Hub::default();
        hub.raise(Signal::Interrupt);
        let mut late = hub.subscribe();
        assert_eq!(late.recv().now_or_never(), Some(Stop::Graceful));
        assert_eq!(late.immediate().now_or_never(), None);
        hub.raise(Signal::Interrupt);
        assert_eq!(late.immediate().now_or_never(), Some(()));
    }

    #[test]
    fn a_hangup_skips_the_graceful_step() {
        let hub = Hub::default();
        let mut a = hub.subscribe();
        hub.raise(Signal::Hangup);
        assert_eq!(a.recv().now_or_never(), Some(Stop::Immediate));
        assert_eq!(a.immediate().now_or_never(), Some(()));
    }
}
