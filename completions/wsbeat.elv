
use builtin;
use str;

set edit:completion:arg-completer[wsbeat] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'wsbeat'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'wsbeat'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand connect 'Open a WebSocket and talk to it: stdin lines out, messages to stdout'
            cand echo-server 'A local echo server: RFC 6455 to the letter, heartbeat, broadcast, TLS, limits, faults'
            cand ping 'ping(8) for WebSockets: numbered Ping frames (or text heartbeats, or whole handshakes), loss, RTT, CI thresholds'
            cand soak 'Hold many connections for a long time: heartbeats, reconnects, loss accounting, live view'
            cand completions 'Print a shell completion script'
            cand man 'Write the man pages (wsbeat.1 and one per subcommand) into DIR, e.g. ~/.local/share/man/man1'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'wsbeat;connect'= {
            cand -H 'Extra request header, curl style (repeatable)'
            cand --header 'Extra request header, curl style (repeatable)'
            cand --origin 'Origin header to send'
            cand -s 'Offer this subprotocol (repeatable, in order of preference); the chosen one is reported'
            cand --subprotocol 'Offer this subprotocol (repeatable, in order of preference); the chosen one is reported'
            cand --auth 'HTTP Basic credentials; never printed'
            cand --connect-timeout 'Give up opening the connection (DNS, TCP, TLS, upgrade) after this long'
            cand --max-message-size 'Largest message accepted from the peer (e.g. 64MiB); a larger one closes with 1009'
            cand --cacert 'Trust the CA certificate(s) in this PEM file instead of the bundled roots'
            cand --cert 'Client certificate (PEM), with --key'
            cand --key 'Private key for --cert (PEM)'
            cand --send 'Send this message first, before stdin (repeatable)'
            cand --send-file 'Send this file as one binary message (after --send, before stdin)'
            cand --fragment-size 'Split every outgoing message into frames of N payload bytes (continuation frames)'
            cand --binary-format 'How to show received binary messages'
            cand --ping-interval 'Send a numbered Ping frame this often and print each pong''s round trip'
            cand --close 'Close frame to send at the end: CODE[:REASON]'
            cand --wait 'After the last input, wait this long for replies before closing (''forever'': until the peer closes)'
            cand --expect 'Regular expression that a received message must match, in order (repeatable); done when all matched'
            cand --expect-close 'The peer must close with this code'
            cand --timeout 'Overall limit for the whole session'
            cand --heartbeat 'Send a Ping frame when nothing was received for DUR; no answer in time ends the connection (exit 6), or reconnects with --reconnect'
            cand --heartbeat-timeout 'How long a heartbeat may go unanswered before the peer is declared dead [default: the interval]'
            cand --heartbeat-text 'Heartbeat with this text message instead of Ping frames ({seq} is replaced by a number)'
            cand --heartbeat-expect 'Regular expression a text reply to --heartbeat-text must match'
            cand --backoff 'Wait between reconnect attempts: MIN..MAX, doubling from MIN'
            cand --max-reconnects 'Attempts after one loss before giving up (exit 6)'
            cand --buffer 'Messages kept while the connection is down, sent in order after reconnecting'
            cand --buffer-overflow 'Which message to drop when the buffer is full (every drop is reported)'
            cand --history 'Keep the interactive history in this file (read at start, appended as you go)'
            cand --color 'When to use colour (NO_COLOR and TERM=dumb also turn it off)'
            cand -k 'Do not verify the server''s certificate (prints a warning)'
            cand --insecure 'Do not verify the server''s certificate (prints a warning)'
            cand --binary 'Send --send messages and stdin lines as binary messages instead of text'
            cand --echo 'Send every received data message back with its type kept'
            cand -P 'Show received pings and pongs'
            cand --show-control 'Show received pings and pongs'
            cand --reconnect 'Reconnect when the connection is lost (backoff with jitter); --send is sent again'
            cand --interactive 'Interactive session with a line editor (default when stdin and stdout are terminals)'
            cand --no-interactive 'Scripted session even on a terminal'
            cand --timestamps 'Prefix every interactive line with the seconds since the session started'
            cand --json 'Print one JSON event per line on stdout (NDJSON; schema in the README)'
            cand -v 'Say more: sent messages, response headers'
            cand --verbose 'Say more: sent messages, response headers'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'wsbeat;echo-server'= {
            cand --listen 'Address to listen on: IP:PORT, or a port alone for 127.0.0.1 (port 0: any free port). A non-loopback address is served only when given here, with a warning'
            cand --ping-interval 'Ping every client after this long without a message from it; see --ping-timeout'
            cand --ping-timeout 'Terminate a client whose pong has not come back after this long [default: the interval]'
            cand --broadcast-queue 'Messages a client may have waiting in broadcast mode; a client over it is closed with 1008 "slow consumer"'
            cand -s 'Accept this subprotocol (repeatable); the first one the client offers that is accepted is chosen, and an upgrade that offers none of them gets 400'
            cand --subprotocol 'Accept this subprotocol (repeatable); the first one the client offers that is accepted is chosen, and an upgrade that offers none of them gets 400'
            cand --max-connections 'Refuse upgrades beyond this many open connections with 503'
            cand --max-message-size 'Largest message accepted (e.g. 64KiB); a larger one is answered with Close 1009'
            cand --handshake-timeout 'Drop a socket that has not completed TLS and the upgrade within this long'
            cand --idle-timeout 'Close a client that sent no message for this long with 1001 "idle timeout" (pings and pongs do not count) [default: off]'
            cand --tls-cert 'Serve wss:// with this certificate chain (PEM), with --tls-key'
            cand --tls-key 'Private key for --tls-cert (PEM)'
            cand --close-after 'Close each connection after N messages (echoed first), with --close-code'
            cand --close-code 'Close frame for --close-after: CODE[:REASON]'
            cand --drop-after 'Drop the TCP connection without a Close frame after N messages (echoed first): the client sees 1006'
            cand --delay 'Send every reply this much later'
            cand --reject 'Refuse every upgrade with this HTTP status and a short body'
            cand --fragment 'Send replies in frames of at most N payload bytes (continuation frames)'
            cand --drop-every 'Do not echo every Nth message of a connection (counted in the summary)'
            cand --duplicate-every 'Echo every Nth message of a connection twice'
            cand --reorder-every 'Hold back every Nth message of a connection and echo it after the next one'
            cand --corrupt-every 'Change a byte of every Nth echo of a connection (its last ASCII byte becomes another letter, so text stays valid UTF-8)'
            cand --fault-seed 'With the --*-every faults: hit random messages, each with probability 1/N, from this seed (mixed with the connection''s number) instead of every Nth'
            cand --color 'When to use colour (NO_COLOR and TERM=dumb also turn it off)'
            cand --app-pong 'Answer the text message `ping` with `pong`, and a JSON `{"type":"ping",...}` with the same object plus "status":"pong" (application-level heartbeat of browser clients)'
            cand --broadcast 'Send every message to every connected client (a chat room) instead of echoing it'
            cand --tls-self-signed 'Serve wss:// with a certificate made at start for localhost, 127.0.0.1 and ::1; its SHA-256 fingerprint and the path of its PEM (for --cacert) are printed'
            cand --no-pong 'Ignore Ping frames (to trigger clients'' heartbeat timeouts)'
            cand --json 'Print one JSON event per line on stdout (NDJSON; schema in the README)'
            cand -v 'Say more: sent messages, response headers'
            cand --verbose 'Say more: sent messages, response headers'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'wsbeat;ping'= {
            cand -H 'Extra request header, curl style (repeatable)'
            cand --header 'Extra request header, curl style (repeatable)'
            cand --origin 'Origin header to send'
            cand --auth 'HTTP Basic credentials; never printed'
            cand --connect-timeout 'Give up opening the connection (DNS, TCP, TLS, upgrade) after this long'
            cand --max-message-size 'Largest message accepted from the peer (e.g. 64MiB); a larger one closes with 1009'
            cand --cacert 'Trust the CA certificate(s) in this PEM file instead of the bundled roots'
            cand --cert 'Client certificate (PEM), with --key'
            cand --key 'Private key for --cert (PEM)'
            cand -c 'Stop after N probes (default: until Ctrl-C or --deadline)'
            cand --count 'Stop after N probes (default: until Ctrl-C or --deadline)'
            cand -i 'Time between probes; sub-millisecond works (250us). 0: the next probe as soon as the last one is answered or timed out'
            cand --interval 'Time between probes; sub-millisecond works (250us). 0: the next probe as soon as the last one is answered or timed out'
            cand -W 'How long to wait for each reply; a reply after this is reported as late and counts as lost'
            cand --timeout 'How long to wait for each reply; a reply after this is reported as late and counts as lost'
            cand -s 'Ping payload size in bytes (8-125: control frames carry at most 125)'
            cand --size 'Ping payload size in bytes (8-125: control frames carry at most 125)'
            cand -w 'Stop after this long, however many probes were sent'
            cand --deadline 'Stop after this long, however many probes were sent'
            cand --text 'Application-level probes: send this text message instead of a Ping frame ({seq} is replaced by the sequence number)'
            cand --expect 'A reply is a text or binary message matching this regular expression (default: any message); others count as other traffic'
            cand --max-loss 'Exit 1 when more than this percentage of probes got no reply in time (default: 0 with -c, else no limit)'
            cand --max-rtt 'Exit 1 when the p99 round trip is over this'
            cand --max-rtt-each 'Exit 1 when any single round trip is over this'
            cand --min-replies 'Exit 1 when fewer than N replies came back in time'
            cand --report 'Also write the run as one self-contained HTML page (round trip over time, losses, distribution) to FILE'
            cand --color 'When to use colour (NO_COLOR and TERM=dumb also turn it off)'
            cand --subprotocol 'Offer this subprotocol (repeatable, in order of preference); the chosen one is reported'
            cand -k 'Do not verify the server''s certificate (prints a warning)'
            cand --insecure 'Do not verify the server''s certificate (prints a warning)'
            cand --connect-only 'Each probe opens a new connection, completes the handshake and closes with 1000; reports DNS/TCP/TLS/upgrade timings'
            cand -q 'Print only the summary (and errors)'
            cand --quiet 'Print only the summary (and errors)'
            cand --json 'Print one JSON event per line on stdout (NDJSON; schema in the README)'
            cand -v 'Say more: sent messages, response headers'
            cand --verbose 'Say more: sent messages, response headers'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'wsbeat;soak'= {
            cand -H 'Extra request header, curl style (repeatable)'
            cand --header 'Extra request header, curl style (repeatable)'
            cand --origin 'Origin header to send'
            cand -s 'Offer this subprotocol (repeatable, in order of preference); the chosen one is reported'
            cand --subprotocol 'Offer this subprotocol (repeatable, in order of preference); the chosen one is reported'
            cand --auth 'HTTP Basic credentials; never printed'
            cand --connect-timeout 'Give up opening the connection (DNS, TCP, TLS, upgrade) after this long'
            cand --max-message-size 'Largest message accepted from the peer (e.g. 64MiB); a larger one closes with 1009'
            cand --cacert 'Trust the CA certificate(s) in this PEM file instead of the bundled roots'
            cand --cert 'Client certificate (PEM), with --key'
            cand --key 'Private key for --cert (PEM)'
            cand -c 'Connections to hold open'
            cand --connections 'Connections to hold open'
            cand --connect-rate 'Open at most this many new connections per second while ramping up (default: as fast as the server accepts)'
            cand -d 'How long to run, counted from the start of the ramp-up'
            cand --duration 'How long to run, counted from the start of the ramp-up'
            cand --message-rate 'Messages per second on each connection (0: idle connections that only heartbeat)'
            cand --size 'Message size in bytes, header included (at least 33: the sequence header; at most 64MiB)'
            cand --fragment-size 'Split each message into frames of at most this many payload bytes'
            cand --mode 'What the connections do: echo (match every echo), send (server does not echo), idle'
            cand --source-addrs 'Local addresses to connect from, round robin: a range 127.0.0.1-127.0.0.8 or a list a,b,c (one source address has ~28k ephemeral ports)'
            cand --heartbeat 'Ping every connection this often (0s: no heartbeat)'
            cand --heartbeat-timeout 'A heartbeat unanswered this long counts the connection dead (then it reconnects)'
            cand --heartbeat-text 'Heartbeat with this text message instead of Ping frames ({seq} becomes a number)'
            cand --heartbeat-expect 'The answer to --heartbeat-text: a text message matching this regular expression (default: the echo of the heartbeat)'
            cand --backoff 'Backoff between attempts: MIN..MAX, doubling, with jitter'
            cand --max-reconnects 'Reconnects allowed per connection over the whole run (default: unlimited)'
            cand --buffer 'Messages kept per connection while it is down, replayed in order after the reconnect; overflow is counted as dropped'
            cand --merge 'Merge the JSON reports of several runs (e.g. from several machines) into one and exit'
            cand --watch-pid 'Also sample this process''s RSS (e.g. the server''s) once a second'
            cand --json 'Write the whole report as JSON to FILE (''-'': stdout; the human summary then goes to stderr)'
            cand --report 'Write the report as one self-contained HTML page with charts of the run over time to FILE'
            cand --color 'When to use colour (NO_COLOR and TERM=dumb also turn it off)'
            cand --max-loss 'Exit 1 when more messages than this were lost (missing + dropped + corrupted)'
            cand --max-p99 'Exit 1 when the p99 message round trip is over this'
            cand --max-errors 'Exit 1 when more errors than this were counted (all kinds)'
            cand --min-connections 'Exit 1 when fewer than N connections were open at the same time at the peak'
            cand -k 'Do not verify the server''s certificate (prints a warning)'
            cand --insecure 'Do not verify the server''s certificate (prints a warning)'
            cand --binary 'Send binary messages instead of text'
            cand --reconnect 'Reconnect lost connections (the default in soak)'
            cand --no-reconnect 'A lost connection stays down'
            cand --no-live 'No live view: a plain status line every few seconds on stderr even on a terminal'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'wsbeat;completions'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'wsbeat;man'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'wsbeat;help'= {
            cand connect 'Open a WebSocket and talk to it: stdin lines out, messages to stdout'
            cand echo-server 'A local echo server: RFC 6455 to the letter, heartbeat, broadcast, TLS, limits, faults'
            cand ping 'ping(8) for WebSockets: numbered Ping frames (or text heartbeats, or whole handshakes), loss, RTT, CI thresholds'
            cand soak 'Hold many connections for a long time: heartbeats, reconnects, loss accounting, live view'
            cand completions 'Print a shell completion script'
            cand man 'Write the man pages (wsbeat.1 and one per subcommand) into DIR, e.g. ~/.local/share/man/man1'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'wsbeat;help;connect'= {
        }
        &'wsbeat;help;echo-server'= {
        }
        &'wsbeat;help;ping'= {
        }
        &'wsbeat;help;soak'= {
        }
        &'wsbeat;help;completions'= {
        }
        &'wsbeat;help;man'= {
        }
        &'wsbeat;help;help'= {
        }
    ]
    $completions[$command]
}
