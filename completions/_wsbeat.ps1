
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'wsbeat' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'wsbeat'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'wsbeat' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('connect', 'connect', [CompletionResultType]::ParameterValue, 'Open a WebSocket and talk to it: stdin lines out, messages to stdout')
            [CompletionResult]::new('echo-server', 'echo-server', [CompletionResultType]::ParameterValue, 'A local echo server: RFC 6455 to the letter, heartbeat, broadcast, TLS, limits, faults')
            [CompletionResult]::new('ping', 'ping', [CompletionResultType]::ParameterValue, 'ping(8) for WebSockets: numbered Ping frames (or text heartbeats, or whole handshakes), loss, RTT, CI thresholds')
            [CompletionResult]::new('soak', 'soak', [CompletionResultType]::ParameterValue, 'Hold many connections for a long time: heartbeats, reconnects, loss accounting, live view')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Write the man pages (wsbeat.1 and one per subcommand) into DIR, e.g. ~/.local/share/man/man1')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'wsbeat;connect' {
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Extra request header, curl style (repeatable)')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'Extra request header, curl style (repeatable)')
            [CompletionResult]::new('--origin', '--origin', [CompletionResultType]::ParameterName, 'Origin header to send')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Offer this subprotocol (repeatable, in order of preference); the chosen one is reported')
            [CompletionResult]::new('--subprotocol', '--subprotocol', [CompletionResultType]::ParameterName, 'Offer this subprotocol (repeatable, in order of preference); the chosen one is reported')
            [CompletionResult]::new('--auth', '--auth', [CompletionResultType]::ParameterName, 'HTTP Basic credentials; never printed')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up opening the connection (DNS, TCP, TLS, upgrade) after this long')
            [CompletionResult]::new('--max-message-size', '--max-message-size', [CompletionResultType]::ParameterName, 'Largest message accepted from the peer (e.g. 64MiB); a larger one closes with 1009 (a compressed one as soon as it inflates past it)')
            [CompletionResult]::new('-x', '-x', [CompletionResultType]::ParameterName, 'Go through this proxy: http:// (CONNECT), https://, socks5:// (DNS here) or socks5h:// (DNS at the proxy); '''' for none. Overrides http_proxy, https_proxy, all_proxy. soak: repeat to spread connections over several, round robin')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Go through this proxy: http:// (CONNECT), https://, socks5:// (DNS here) or socks5h:// (DNS at the proxy); '''' for none. Overrides http_proxy, https_proxy, all_proxy. soak: repeat to spread connections over several, round robin')
            [CompletionResult]::new('--proxy-user', '--proxy-user', [CompletionResultType]::ParameterName, 'Credentials for the proxy; never printed')
            [CompletionResult]::new('--noproxy', '--noproxy', [CompletionResultType]::ParameterName, 'Hosts that go direct, comma-separated: names (and their subdomains), IPs, CIDR ranges, or *; replaces no_proxy/NO_PROXY')
            [CompletionResult]::new('--max-redirs', '--max-redirs', [CompletionResultType]::ParameterName, 'With -L: follow at most this many redirects')
            [CompletionResult]::new('--unix-socket', '--unix-socket', [CompletionResultType]::ParameterName, 'Connect to this Unix socket; the URL still gives Host and path (or write ws+unix:///SOCK:/PATH)')
            [CompletionResult]::new('--resolve', '--resolve', [CompletionResultType]::ParameterName, 'Use ADDR for HOST:PORT instead of DNS, like curl (repeatable; ADDR may be a list: A,B)')
            [CompletionResult]::new('--connect-to', '--connect-to', [CompletionResultType]::ParameterName, 'Connect to HOST2:PORT2 whenever the URL says HOST1:PORT1, like curl (repeatable; parts may be empty)')
            [CompletionResult]::new('--compress', '--compress', [CompletionResultType]::ParameterName, 'Offer permessage-deflate (RFC 7692), optionally with parameters, e.g. ''client_max_window_bits=10; server_no_context_takeover''; repeat to offer alternatives in order of preference')
            [CompletionResult]::new('--cacert', '--cacert', [CompletionResultType]::ParameterName, 'Trust the CA certificate(s) in this PEM file instead of the bundled roots')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'Client certificate (PEM), with --key')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Private key for --cert (PEM)')
            [CompletionResult]::new('--tls-server-name', '--tls-server-name', [CompletionResultType]::ParameterName, 'Send this name in SNI and verify the certificate against it instead of the URL''s host')
            [CompletionResult]::new('--send', '--send', [CompletionResultType]::ParameterName, 'A step: send this message ({seq} and {NAME} captured earlier are substituted); steps run in command-line order with --expect/--expect-json, before stdin (repeatable)')
            [CompletionResult]::new('--send-uncompressed', '--send-uncompressed', [CompletionResultType]::ParameterName, 'Send this message uncompressed (RSV1 clear) on a compressed connection, after --send and --send-file (repeatable): servers must accept it (RFC 7692 6)')
            [CompletionResult]::new('--send-file', '--send-file', [CompletionResultType]::ParameterName, 'Send this file as one binary message (after --send, before stdin)')
            [CompletionResult]::new('--fragment-size', '--fragment-size', [CompletionResultType]::ParameterName, 'Split every outgoing message into frames of N payload bytes (continuation frames)')
            [CompletionResult]::new('--binary-format', '--binary-format', [CompletionResultType]::ParameterName, 'How to show received binary messages')
            [CompletionResult]::new('--ping-interval', '--ping-interval', [CompletionResultType]::ParameterName, 'Send a numbered Ping frame this often and print each pong''s round trip')
            [CompletionResult]::new('--close', '--close', [CompletionResultType]::ParameterName, 'Close frame to send at the end: CODE[:REASON]')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'After the last input, wait this long for replies before closing (''forever'': until the peer closes)')
            [CompletionResult]::new('--expect', '--expect', [CompletionResultType]::ParameterName, 'A step: wait for a message matching this regular expression ((?P<NAME>...) captures {NAME}); other messages are shown and skipped (repeatable)')
            [CompletionResult]::new('--expect-json', '--expect-json', [CompletionResultType]::ParameterName, 'A step: wait for a JSON message where POINTER (RFC 6901) exists, =TEXT, ==JSON or =>NAME (captures {NAME}), e.g. ''/type=welcome'' (repeatable)')
            [CompletionResult]::new('--step-timeout', '--step-timeout', [CompletionResultType]::ParameterName, 'How long each expect step may wait before the run fails (exit 1) (''forever'': bounded only by --timeout)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'The socket.io namespace to join')
            [CompletionResult]::new('--sio-auth', '--sio-auth', [CompletionResultType]::ParameterName, 'The auth payload sent with the namespace CONNECT (a JSON object)')
            [CompletionResult]::new('--emit', '--emit', [CompletionResultType]::ParameterName, 'A step: emit EVENT with JSON (an array is the argument list, anything else one argument; {NAME} captures substituted) (repeatable)')
            [CompletionResult]::new('--emit-ack', '--emit-ack', [CompletionResultType]::ParameterName, 'A step: emit EVENT with JSON and wait for its ack (--step-timeout), showing its round trip')
            [CompletionResult]::new('--expect-close', '--expect-close', [CompletionResultType]::ParameterName, 'The peer must close with this code')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Overall limit for the whole session')
            [CompletionResult]::new('--heartbeat', '--heartbeat', [CompletionResultType]::ParameterName, 'Send a Ping frame when nothing was received for DUR; no answer in time ends the connection (exit 6), or reconnects with --reconnect')
            [CompletionResult]::new('--heartbeat-timeout', '--heartbeat-timeout', [CompletionResultType]::ParameterName, 'How long a heartbeat may go unanswered before the peer is declared dead [default: the interval]')
            [CompletionResult]::new('--heartbeat-text', '--heartbeat-text', [CompletionResultType]::ParameterName, 'Heartbeat with this text message instead of Ping frames ({seq} is replaced by a number)')
            [CompletionResult]::new('--heartbeat-expect', '--heartbeat-expect', [CompletionResultType]::ParameterName, 'Regular expression a text reply to --heartbeat-text must match')
            [CompletionResult]::new('--backoff', '--backoff', [CompletionResultType]::ParameterName, 'Wait between reconnect attempts: MIN..MAX, doubling from MIN')
            [CompletionResult]::new('--max-reconnects', '--max-reconnects', [CompletionResultType]::ParameterName, 'Attempts after one loss before giving up (exit 6)')
            [CompletionResult]::new('--buffer', '--buffer', [CompletionResultType]::ParameterName, 'Messages kept while the connection is down, sent in order after reconnecting')
            [CompletionResult]::new('--buffer-overflow', '--buffer-overflow', [CompletionResultType]::ParameterName, 'Which message to drop when the buffer is full (every drop is reported)')
            [CompletionResult]::new('--history', '--history', [CompletionResultType]::ParameterName, 'Keep the interactive history in this file (read at start, appended as you go)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour (NO_COLOR and TERM=dumb also turn it off)')
            [CompletionResult]::new('-L', '-L ', [CompletionResultType]::ParameterName, 'Follow redirects (301, 302, 303, 307, 308) of the upgrade; credentials only go to the first host')
            [CompletionResult]::new('--location', '--location', [CompletionResultType]::ParameterName, 'Follow redirects (301, 302, 303, 307, 308) of the upgrade; credentials only go to the first host')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Do not verify the server''s certificate (prints a warning)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not verify the server''s certificate (prints a warning)')
            [CompletionResult]::new('--binary', '--binary', [CompletionResultType]::ParameterName, 'Send --send messages and stdin lines as binary messages instead of text')
            [CompletionResult]::new('--echo', '--echo', [CompletionResultType]::ParameterName, 'Send every received data message back with its type kept')
            [CompletionResult]::new('-P', '-P ', [CompletionResultType]::ParameterName, 'Show received pings and pongs')
            [CompletionResult]::new('--show-control', '--show-control', [CompletionResultType]::ParameterName, 'Show received pings and pongs')
            [CompletionResult]::new('--socketio', '--socketio', [CompletionResultType]::ParameterName, 'Speak socket.io (Engine.IO v4 over WebSocket, socket.io v5): answer pings, join --namespace; implied by a URL path ending in /socket.io/')
            [CompletionResult]::new('--reconnect', '--reconnect', [CompletionResultType]::ParameterName, 'Reconnect when the connection is lost (backoff with jitter); the steps run again')
            [CompletionResult]::new('--resend-unconfirmed', '--resend-unconfirmed', [CompletionResultType]::ParameterName, 'After a reconnect, send again the messages the lost connection may not have delivered (its TCP never acknowledged them), in order, before the buffered ones; the peer may see them twice')
            [CompletionResult]::new('--interactive', '--interactive', [CompletionResultType]::ParameterName, 'Interactive session with a line editor (default when stdin and stdout are terminals)')
            [CompletionResult]::new('--no-interactive', '--no-interactive', [CompletionResultType]::ParameterName, 'Scripted session even on a terminal')
            [CompletionResult]::new('--timestamps', '--timestamps', [CompletionResultType]::ParameterName, 'Prefix every interactive line with the seconds since the session started')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON event per line on stdout (NDJSON; schema in the README)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: sent messages, response headers')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: sent messages, response headers')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'wsbeat;echo-server' {
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address to listen on: IP:PORT, or a port alone for 127.0.0.1 (port 0: any free port), or unix:PATH for a Unix socket (removed on exit). A non-loopback address is served only when given here, with a warning')
            [CompletionResult]::new('--ping-interval', '--ping-interval', [CompletionResultType]::ParameterName, 'Ping every client after this long without a message from it; see --ping-timeout (with --socketio: Engine.IO''s pingInterval)')
            [CompletionResult]::new('--ping-timeout', '--ping-timeout', [CompletionResultType]::ParameterName, 'Terminate a client whose pong has not come back after this long [default: the interval]')
            [CompletionResult]::new('--broadcast-queue', '--broadcast-queue', [CompletionResultType]::ParameterName, 'Messages a client may have waiting in broadcast mode; a client over it is closed with 1008 "slow consumer"')
            [CompletionResult]::new('--broadcast-queue-bytes', '--broadcast-queue-bytes', [CompletionResultType]::ParameterName, 'Bytes a client may have waiting in broadcast mode (one message always fits); a client over it is closed with 1008 "slow consumer"')
            [CompletionResult]::new('--redis', '--redis', [CompletionResultType]::ParameterName, 'Share broadcast with every echo-server on this Redis (redis://[:PASSWORD@]HOST:PORT[/DB], rediss:// for TLS) and the same room, over pub/sub; with --replay, keep messages there. The password is never printed')
            [CompletionResult]::new('--room', '--room', [CompletionResultType]::ParameterName, 'Put every client in this broadcast room [default: the request path, without its query]')
            [CompletionResult]::new('--replay', '--replay', [CompletionResultType]::ParameterName, 'Keep the last N broadcast messages of each room (in Redis with --redis, else in memory); a client that comes back (see --client-id) first gets what it missed, marked ''[replay seq=N] '', then live messages marked ''[seq=N] ''; ?since=SEQ in its URL says what it already has')
            [CompletionResult]::new('--replay-ttl', '--replay-ttl', [CompletionResultType]::ParameterName, 'How long kept messages and where each client stopped are remembered')
            [CompletionResult]::new('--client-id', '--client-id', [CompletionResultType]::ParameterName, 'How a client is recognized for --replay: query:NAME (the URL''s ?NAME=), header:NAME, or first-message (its first text message, not broadcast)')
            [CompletionResult]::new('--replay-memory', '--replay-memory', [CompletionResultType]::ParameterName, 'Without --redis: bytes of kept messages over all rooms; a message beyond it is sent marked ''[unstored] '' and counted')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Accept this subprotocol (repeatable); the first one the client offers that is accepted is chosen, and an upgrade that offers none of them gets 400')
            [CompletionResult]::new('--subprotocol', '--subprotocol', [CompletionResultType]::ParameterName, 'Accept this subprotocol (repeatable); the first one the client offers that is accepted is chosen, and an upgrade that offers none of them gets 400')
            [CompletionResult]::new('--compress-params', '--compress-params', [CompletionResultType]::ParameterName, 'What the server insists on or allows with --compress, e.g. ''server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=10''')
            [CompletionResult]::new('--max-connections', '--max-connections', [CompletionResultType]::ParameterName, 'Refuse upgrades beyond this many open connections with 503')
            [CompletionResult]::new('--max-message-size', '--max-message-size', [CompletionResultType]::ParameterName, 'Largest message accepted (e.g. 64KiB); a larger one is answered with Close 1009')
            [CompletionResult]::new('--max-buffered', '--max-buffered', [CompletionResultType]::ParameterName, 'What the server holds for all clients together (output waiting for clients that do not read, messages still arriving); beyond it, the client holding the most is closed with 1013 "try again later"')
            [CompletionResult]::new('--handshake-timeout', '--handshake-timeout', [CompletionResultType]::ParameterName, 'Drop a socket that has not completed TLS and the upgrade within this long')
            [CompletionResult]::new('--idle-timeout', '--idle-timeout', [CompletionResultType]::ParameterName, 'Close a client that sent no message for this long with 1001 "idle timeout" (pings and pongs do not count) [default: off]')
            [CompletionResult]::new('--tls-cert', '--tls-cert', [CompletionResultType]::ParameterName, 'Serve wss:// with this certificate chain (PEM), with --tls-key')
            [CompletionResult]::new('--tls-key', '--tls-key', [CompletionResultType]::ParameterName, 'Private key for --tls-cert (PEM)')
            [CompletionResult]::new('--close-after', '--close-after', [CompletionResultType]::ParameterName, 'Close each connection after N messages (echoed first), with --close-code')
            [CompletionResult]::new('--close-code', '--close-code', [CompletionResultType]::ParameterName, 'Close frame for --close-after: CODE[:REASON]')
            [CompletionResult]::new('--drop-after', '--drop-after', [CompletionResultType]::ParameterName, 'Drop the TCP connection without a Close frame after N messages (echoed first): the client sees 1006')
            [CompletionResult]::new('--delay', '--delay', [CompletionResultType]::ParameterName, 'Send every reply this much later')
            [CompletionResult]::new('--reject', '--reject', [CompletionResultType]::ParameterName, 'Refuse every upgrade with this HTTP status and a short body')
            [CompletionResult]::new('--fragment', '--fragment', [CompletionResultType]::ParameterName, 'Send replies in frames of at most N payload bytes (continuation frames)')
            [CompletionResult]::new('--drop-every', '--drop-every', [CompletionResultType]::ParameterName, 'Do not echo every Nth message of a connection (counted in the summary)')
            [CompletionResult]::new('--duplicate-every', '--duplicate-every', [CompletionResultType]::ParameterName, 'Echo every Nth message of a connection twice')
            [CompletionResult]::new('--reorder-every', '--reorder-every', [CompletionResultType]::ParameterName, 'Hold back every Nth message of a connection and echo it after the next one')
            [CompletionResult]::new('--corrupt-every', '--corrupt-every', [CompletionResultType]::ParameterName, 'Change a byte of every Nth echo of a connection (its last ASCII byte becomes another letter, so text stays valid UTF-8)')
            [CompletionResult]::new('--fault-seed', '--fault-seed', [CompletionResultType]::ParameterName, 'With the --*-every faults: hit random messages, each with probability 1/N, from this seed (mixed with the connection''s number) instead of every Nth')
            [CompletionResult]::new('--sio-auth', '--sio-auth', [CompletionResultType]::ParameterName, 'With --socketio: answer a CONNECT whose auth payload is not this JSON with CONNECT_ERROR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour (NO_COLOR and TERM=dumb also turn it off)')
            [CompletionResult]::new('--app-pong', '--app-pong', [CompletionResultType]::ParameterName, 'Answer the text message `ping` with `pong`, and a JSON `{"type":"ping",...}` with the same object plus "status":"pong" (application-level heartbeat of browser clients)')
            [CompletionResult]::new('--broadcast', '--broadcast', [CompletionResultType]::ParameterName, 'Send every message to every connected client (a chat room) instead of echoing it')
            [CompletionResult]::new('--compress', '--compress', [CompletionResultType]::ParameterName, 'Accept permessage-deflate (RFC 7692) offers: the first offer the server can honour is accepted, invalid ones are declined')
            [CompletionResult]::new('--tls-self-signed', '--tls-self-signed', [CompletionResultType]::ParameterName, 'Serve wss:// with a certificate made at start for localhost, 127.0.0.1 and ::1; its SHA-256 fingerprint and the path of its PEM (for --cacert) are printed')
            [CompletionResult]::new('--no-pong', '--no-pong', [CompletionResultType]::ParameterName, 'Ignore Ping frames (to trigger clients'' heartbeat timeouts); with --socketio, send no Engine.IO pings')
            [CompletionResult]::new('--socketio', '--socketio', [CompletionResultType]::ParameterName, 'Serve socket.io v4 (Engine.IO v4, polling and WebSocket) on /socket.io/: events are echoed to their sender (with --broadcast, to every socket in the namespace) and acks answered with the event''s arguments; any namespace is accepted. Pings every --ping-interval [default: 25s], ends a client after --ping-timeout [default: 20s]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON event per line on stdout (NDJSON; schema in the README)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: sent messages, response headers')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: sent messages, response headers')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'wsbeat;ping' {
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Extra request header, curl style (repeatable)')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'Extra request header, curl style (repeatable)')
            [CompletionResult]::new('--origin', '--origin', [CompletionResultType]::ParameterName, 'Origin header to send')
            [CompletionResult]::new('--auth', '--auth', [CompletionResultType]::ParameterName, 'HTTP Basic credentials; never printed')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up opening the connection (DNS, TCP, TLS, upgrade) after this long')
            [CompletionResult]::new('--max-message-size', '--max-message-size', [CompletionResultType]::ParameterName, 'Largest message accepted from the peer (e.g. 64MiB); a larger one closes with 1009 (a compressed one as soon as it inflates past it)')
            [CompletionResult]::new('-x', '-x', [CompletionResultType]::ParameterName, 'Go through this proxy: http:// (CONNECT), https://, socks5:// (DNS here) or socks5h:// (DNS at the proxy); '''' for none. Overrides http_proxy, https_proxy, all_proxy. soak: repeat to spread connections over several, round robin')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Go through this proxy: http:// (CONNECT), https://, socks5:// (DNS here) or socks5h:// (DNS at the proxy); '''' for none. Overrides http_proxy, https_proxy, all_proxy. soak: repeat to spread connections over several, round robin')
            [CompletionResult]::new('--proxy-user', '--proxy-user', [CompletionResultType]::ParameterName, 'Credentials for the proxy; never printed')
            [CompletionResult]::new('--noproxy', '--noproxy', [CompletionResultType]::ParameterName, 'Hosts that go direct, comma-separated: names (and their subdomains), IPs, CIDR ranges, or *; replaces no_proxy/NO_PROXY')
            [CompletionResult]::new('--max-redirs', '--max-redirs', [CompletionResultType]::ParameterName, 'With -L: follow at most this many redirects')
            [CompletionResult]::new('--unix-socket', '--unix-socket', [CompletionResultType]::ParameterName, 'Connect to this Unix socket; the URL still gives Host and path (or write ws+unix:///SOCK:/PATH)')
            [CompletionResult]::new('--resolve', '--resolve', [CompletionResultType]::ParameterName, 'Use ADDR for HOST:PORT instead of DNS, like curl (repeatable; ADDR may be a list: A,B)')
            [CompletionResult]::new('--connect-to', '--connect-to', [CompletionResultType]::ParameterName, 'Connect to HOST2:PORT2 whenever the URL says HOST1:PORT1, like curl (repeatable; parts may be empty)')
            [CompletionResult]::new('--compress', '--compress', [CompletionResultType]::ParameterName, 'Offer permessage-deflate (RFC 7692), optionally with parameters, e.g. ''client_max_window_bits=10; server_no_context_takeover''; repeat to offer alternatives in order of preference')
            [CompletionResult]::new('--cacert', '--cacert', [CompletionResultType]::ParameterName, 'Trust the CA certificate(s) in this PEM file instead of the bundled roots')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'Client certificate (PEM), with --key')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Private key for --cert (PEM)')
            [CompletionResult]::new('--tls-server-name', '--tls-server-name', [CompletionResultType]::ParameterName, 'Send this name in SNI and verify the certificate against it instead of the URL''s host')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Stop after N probes (default: until Ctrl-C or --deadline)')
            [CompletionResult]::new('--count', '--count', [CompletionResultType]::ParameterName, 'Stop after N probes (default: until Ctrl-C or --deadline)')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Time between probes; sub-millisecond works (250us). 0: the next probe as soon as the last one is answered or timed out')
            [CompletionResult]::new('--interval', '--interval', [CompletionResultType]::ParameterName, 'Time between probes; sub-millisecond works (250us). 0: the next probe as soon as the last one is answered or timed out')
            [CompletionResult]::new('-W', '-W ', [CompletionResultType]::ParameterName, 'How long to wait for each reply; a reply after this is reported as late and counts as lost')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for each reply; a reply after this is reported as late and counts as lost')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Ping payload size in bytes (8-125: control frames carry at most 125)')
            [CompletionResult]::new('--size', '--size', [CompletionResultType]::ParameterName, 'Ping payload size in bytes (8-125: control frames carry at most 125)')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'Stop after this long, however many probes were sent')
            [CompletionResult]::new('--deadline', '--deadline', [CompletionResultType]::ParameterName, 'Stop after this long, however many probes were sent')
            [CompletionResult]::new('--text', '--text', [CompletionResultType]::ParameterName, 'Application-level probes: send this text message instead of a Ping frame ({seq} is replaced by the sequence number)')
            [CompletionResult]::new('--expect', '--expect', [CompletionResultType]::ParameterName, 'A reply is a text or binary message matching this regular expression (default: any message); others count as other traffic')
            [CompletionResult]::new('--event', '--event', [CompletionResultType]::ParameterName, 'The event to emit; the server must acknowledge it')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'The socket.io namespace to join')
            [CompletionResult]::new('--sio-auth', '--sio-auth', [CompletionResultType]::ParameterName, 'The auth payload sent with the namespace CONNECT (a JSON object)')
            [CompletionResult]::new('--max-loss', '--max-loss', [CompletionResultType]::ParameterName, 'Exit 1 when more than this percentage of probes got no reply in time (default: 0 with -c, else no limit)')
            [CompletionResult]::new('--max-rtt', '--max-rtt', [CompletionResultType]::ParameterName, 'Exit 1 when the p99 round trip is over this')
            [CompletionResult]::new('--max-rtt-each', '--max-rtt-each', [CompletionResultType]::ParameterName, 'Exit 1 when any single round trip is over this')
            [CompletionResult]::new('--min-replies', '--min-replies', [CompletionResultType]::ParameterName, 'Exit 1 when fewer than N replies came back in time')
            [CompletionResult]::new('--report', '--report', [CompletionResultType]::ParameterName, 'Also write the run as one self-contained HTML page (round trip over time, losses, distribution) to FILE')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour (NO_COLOR and TERM=dumb also turn it off)')
            [CompletionResult]::new('--subprotocol', '--subprotocol', [CompletionResultType]::ParameterName, 'Offer this subprotocol (repeatable, in order of preference); the chosen one is reported')
            [CompletionResult]::new('-L', '-L ', [CompletionResultType]::ParameterName, 'Follow redirects (301, 302, 303, 307, 308) of the upgrade; credentials only go to the first host')
            [CompletionResult]::new('--location', '--location', [CompletionResultType]::ParameterName, 'Follow redirects (301, 302, 303, 307, 308) of the upgrade; credentials only go to the first host')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Do not verify the server''s certificate (prints a warning)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not verify the server''s certificate (prints a warning)')
            [CompletionResult]::new('--socketio', '--socketio', [CompletionResultType]::ParameterName, 'socket.io probes: emit --event with the sequence number and time its ack (implied by a URL path ending in /socket.io/)')
            [CompletionResult]::new('--engineio', '--engineio', [CompletionResultType]::ParameterName, 'Measure the server''s Engine.IO heartbeat instead: the interval between the server''s pings as this client sees them, and its jitter (mdev); nothing is sent but pongs')
            [CompletionResult]::new('--connect-only', '--connect-only', [CompletionResultType]::ParameterName, 'Each probe opens a new connection, completes the handshake and closes with 1000; reports DNS/TCP/TLS/upgrade timings')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only the summary (and errors)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only the summary (and errors)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON event per line on stdout (NDJSON; schema in the README)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: sent messages, response headers')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: sent messages, response headers')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'wsbeat;soak' {
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Extra request header, curl style (repeatable)')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'Extra request header, curl style (repeatable)')
            [CompletionResult]::new('--origin', '--origin', [CompletionResultType]::ParameterName, 'Origin header to send')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Offer this subprotocol (repeatable, in order of preference); the chosen one is reported')
            [CompletionResult]::new('--subprotocol', '--subprotocol', [CompletionResultType]::ParameterName, 'Offer this subprotocol (repeatable, in order of preference); the chosen one is reported')
            [CompletionResult]::new('--auth', '--auth', [CompletionResultType]::ParameterName, 'HTTP Basic credentials; never printed')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up opening the connection (DNS, TCP, TLS, upgrade) after this long')
            [CompletionResult]::new('--max-message-size', '--max-message-size', [CompletionResultType]::ParameterName, 'Largest message accepted from the peer (e.g. 64MiB); a larger one closes with 1009 (a compressed one as soon as it inflates past it)')
            [CompletionResult]::new('-x', '-x', [CompletionResultType]::ParameterName, 'Go through this proxy: http:// (CONNECT), https://, socks5:// (DNS here) or socks5h:// (DNS at the proxy); '''' for none. Overrides http_proxy, https_proxy, all_proxy. soak: repeat to spread connections over several, round robin')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Go through this proxy: http:// (CONNECT), https://, socks5:// (DNS here) or socks5h:// (DNS at the proxy); '''' for none. Overrides http_proxy, https_proxy, all_proxy. soak: repeat to spread connections over several, round robin')
            [CompletionResult]::new('--proxy-user', '--proxy-user', [CompletionResultType]::ParameterName, 'Credentials for the proxy; never printed')
            [CompletionResult]::new('--noproxy', '--noproxy', [CompletionResultType]::ParameterName, 'Hosts that go direct, comma-separated: names (and their subdomains), IPs, CIDR ranges, or *; replaces no_proxy/NO_PROXY')
            [CompletionResult]::new('--max-redirs', '--max-redirs', [CompletionResultType]::ParameterName, 'With -L: follow at most this many redirects')
            [CompletionResult]::new('--unix-socket', '--unix-socket', [CompletionResultType]::ParameterName, 'Connect to this Unix socket; the URL still gives Host and path (or write ws+unix:///SOCK:/PATH)')
            [CompletionResult]::new('--resolve', '--resolve', [CompletionResultType]::ParameterName, 'Use ADDR for HOST:PORT instead of DNS, like curl (repeatable; ADDR may be a list: A,B)')
            [CompletionResult]::new('--connect-to', '--connect-to', [CompletionResultType]::ParameterName, 'Connect to HOST2:PORT2 whenever the URL says HOST1:PORT1, like curl (repeatable; parts may be empty)')
            [CompletionResult]::new('--compress', '--compress', [CompletionResultType]::ParameterName, 'Offer permessage-deflate (RFC 7692), optionally with parameters, e.g. ''client_max_window_bits=10; server_no_context_takeover''; repeat to offer alternatives in order of preference')
            [CompletionResult]::new('--cacert', '--cacert', [CompletionResultType]::ParameterName, 'Trust the CA certificate(s) in this PEM file instead of the bundled roots')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'Client certificate (PEM), with --key')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Private key for --cert (PEM)')
            [CompletionResult]::new('--tls-server-name', '--tls-server-name', [CompletionResultType]::ParameterName, 'Send this name in SNI and verify the certificate against it instead of the URL''s host')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Connections to hold open')
            [CompletionResult]::new('--connections', '--connections', [CompletionResultType]::ParameterName, 'Connections to hold open')
            [CompletionResult]::new('--connect-rate', '--connect-rate', [CompletionResultType]::ParameterName, 'Open at most this many new connections per second while ramping up (default: as fast as the server accepts)')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'How long to run, counted from the start of the ramp-up')
            [CompletionResult]::new('--duration', '--duration', [CompletionResultType]::ParameterName, 'How long to run, counted from the start of the ramp-up')
            [CompletionResult]::new('--message-rate', '--message-rate', [CompletionResultType]::ParameterName, 'Messages per second on each connection (0: idle connections that only heartbeat)')
            [CompletionResult]::new('--size', '--size', [CompletionResultType]::ParameterName, 'Message size in bytes, header included (at least 33: the sequence header; at most 64MiB)')
            [CompletionResult]::new('--fragment-size', '--fragment-size', [CompletionResultType]::ParameterName, 'Split each message into frames of at most this many payload bytes')
            [CompletionResult]::new('--mode', '--mode', [CompletionResultType]::ParameterName, 'What the connections do: echo (match every echo), send (server does not echo), idle')
            [CompletionResult]::new('--source-addrs', '--source-addrs', [CompletionResultType]::ParameterName, 'Local addresses to connect from, round robin: a range 127.0.0.1-127.0.0.8 or a list a,b,c (one source address has ~28k ephemeral ports)')
            [CompletionResult]::new('--heartbeat', '--heartbeat', [CompletionResultType]::ParameterName, 'Ping every connection this often (0s: no heartbeat)')
            [CompletionResult]::new('--heartbeat-timeout', '--heartbeat-timeout', [CompletionResultType]::ParameterName, 'A heartbeat unanswered this long counts the connection dead (then it reconnects)')
            [CompletionResult]::new('--heartbeat-text', '--heartbeat-text', [CompletionResultType]::ParameterName, 'Heartbeat with this text message instead of Ping frames ({seq} becomes a number)')
            [CompletionResult]::new('--heartbeat-expect', '--heartbeat-expect', [CompletionResultType]::ParameterName, 'The answer to --heartbeat-text: a text message matching this regular expression (default: the echo of the heartbeat)')
            [CompletionResult]::new('--send', '--send', [CompletionResultType]::ParameterName, 'A preamble step on every connection, after it opens and after every reconnect: send this message ({seq}, {NAME} captured earlier); in command-line order with --expect')
            [CompletionResult]::new('--expect', '--expect', [CompletionResultType]::ParameterName, 'A preamble step: wait for a message matching this regular expression')
            [CompletionResult]::new('--expect-json', '--expect-json', [CompletionResultType]::ParameterName, 'A preamble step: wait for a JSON message matching POINTER[=TEXT|==JSON|=>NAME]')
            [CompletionResult]::new('--step-timeout', '--step-timeout', [CompletionResultType]::ParameterName, 'How long each preamble expect may wait before the connection counts as a preamble failure (it is closed and reconnects)')
            [CompletionResult]::new('--scenario', '--scenario', [CompletionResultType]::ParameterName, 'A TOML scenario: preamble steps, the message template and echo rule, think times (schema in the README; instead of --send/--expect/--expect-json)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'The socket.io namespace every connection joins')
            [CompletionResult]::new('--sio-auth', '--sio-auth', [CompletionResultType]::ParameterName, 'The auth payload of the namespace CONNECT (a JSON object)')
            [CompletionResult]::new('--event', '--event', [CompletionResultType]::ParameterName, 'The event the messages are emitted as, and that the server sends back')
            [CompletionResult]::new('--backoff', '--backoff', [CompletionResultType]::ParameterName, 'Backoff between attempts: MIN..MAX, doubling, with jitter')
            [CompletionResult]::new('--max-reconnects', '--max-reconnects', [CompletionResultType]::ParameterName, 'Reconnects allowed per connection over the whole run (default: unlimited)')
            [CompletionResult]::new('--buffer', '--buffer', [CompletionResultType]::ParameterName, 'Messages kept per connection while it is down, replayed in order after the reconnect; overflow is counted as dropped')
            [CompletionResult]::new('--merge', '--merge', [CompletionResultType]::ParameterName, 'Merge the JSON reports of several runs (e.g. from several machines) into one and exit')
            [CompletionResult]::new('--watch-pid', '--watch-pid', [CompletionResultType]::ParameterName, 'Also sample this process''s RSS (e.g. the server''s) once a second')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Write the whole report as JSON to FILE (''-'': stdout; the human summary then goes to stderr)')
            [CompletionResult]::new('--report', '--report', [CompletionResultType]::ParameterName, 'Write the report as one self-contained HTML page with charts of the run over time to FILE')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour (NO_COLOR and TERM=dumb also turn it off)')
            [CompletionResult]::new('--max-loss', '--max-loss', [CompletionResultType]::ParameterName, 'Exit 1 when more messages than this were lost (missing, dropped, unsent, lost in flight, corrupted)')
            [CompletionResult]::new('--max-p99', '--max-p99', [CompletionResultType]::ParameterName, 'Exit 1 when the p99 message round trip is over this')
            [CompletionResult]::new('--max-errors', '--max-errors', [CompletionResultType]::ParameterName, 'Exit 1 when more errors than this were counted (all kinds)')
            [CompletionResult]::new('--min-connections', '--min-connections', [CompletionResultType]::ParameterName, 'Exit 1 when fewer than N connections were open at the same time at the peak')
            [CompletionResult]::new('--coordinator', '--coordinator', [CompletionResultType]::ParameterName, 'Join a coordinated run: redis://[:PASSWORD@]HOST[:PORT]/RUN_ID (rediss:// for TLS). Every worker takes its share of -c, waits at a barrier for the others, and publishes its figures every second; `--lead` shows and reports the whole run')
            [CompletionResult]::new('--workers', '--workers', [CompletionResultType]::ParameterName, 'How many workers make the run (each takes 1/N of -c)')
            [CompletionResult]::new('--worker-index', '--worker-index', [CompletionResultType]::ParameterName, 'This worker''s slot, 0..N-1 (default: $JOB_COMPLETION_INDEX, else the order of joining)')
            [CompletionResult]::new('--barrier-timeout', '--barrier-timeout', [CompletionResultType]::ParameterName, 'How long the workers wait for each other before giving up (exit 6, naming the missing slots)')
            [CompletionResult]::new('-L', '-L ', [CompletionResultType]::ParameterName, 'Follow redirects (301, 302, 303, 307, 308) of the upgrade; credentials only go to the first host')
            [CompletionResult]::new('--location', '--location', [CompletionResultType]::ParameterName, 'Follow redirects (301, 302, 303, 307, 308) of the upgrade; credentials only go to the first host')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Do not verify the server''s certificate (prints a warning)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not verify the server''s certificate (prints a warning)')
            [CompletionResult]::new('--binary', '--binary', [CompletionResultType]::ParameterName, 'Send binary messages instead of text')
            [CompletionResult]::new('--socketio', '--socketio', [CompletionResultType]::ParameterName, 'Speak socket.io (Engine.IO v4 over WebSocket) on every connection: join the namespace, answer the server''s pings, emit the numbered messages as events and match the events the server sends back (implied by a URL whose path ends in /socket.io/)')
            [CompletionResult]::new('--reconnect', '--reconnect', [CompletionResultType]::ParameterName, 'Reconnect lost connections (the default in soak)')
            [CompletionResult]::new('--no-reconnect', '--no-reconnect', [CompletionResultType]::ParameterName, 'A lost connection stays down')
            [CompletionResult]::new('--server-replay', '--server-replay', [CompletionResultType]::ParameterName, 'The server replays what a connection missed (echo-server --replay, or one that marks messages alike): strip its ''[seq=N] '' marks before matching, reconnect with ?since=<the highest N received>, and await the messages in flight at a loss on the new connection instead of sending them again. Use {conn} in the URL for a room and client id per connection, e.g. ws://HOST/room-{conn}?user=u{conn}')
            [CompletionResult]::new('--no-live', '--no-live', [CompletionResultType]::ParameterName, 'No live view: a plain status line every few seconds on stderr even on a terminal')
            [CompletionResult]::new('--lead', '--lead', [CompletionResultType]::ParameterName, 'Open no connection: show the whole run live, then write the merged report and check the thresholds on it')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'wsbeat;completions' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'wsbeat;man' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'wsbeat;help' {
            [CompletionResult]::new('connect', 'connect', [CompletionResultType]::ParameterValue, 'Open a WebSocket and talk to it: stdin lines out, messages to stdout')
            [CompletionResult]::new('echo-server', 'echo-server', [CompletionResultType]::ParameterValue, 'A local echo server: RFC 6455 to the letter, heartbeat, broadcast, TLS, limits, faults')
            [CompletionResult]::new('ping', 'ping', [CompletionResultType]::ParameterValue, 'ping(8) for WebSockets: numbered Ping frames (or text heartbeats, or whole handshakes), loss, RTT, CI thresholds')
            [CompletionResult]::new('soak', 'soak', [CompletionResultType]::ParameterValue, 'Hold many connections for a long time: heartbeats, reconnects, loss accounting, live view')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Write the man pages (wsbeat.1 and one per subcommand) into DIR, e.g. ~/.local/share/man/man1')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'wsbeat;help;connect' {
            break
        }
        'wsbeat;help;echo-server' {
            break
        }
        'wsbeat;help;ping' {
            break
        }
        'wsbeat;help;soak' {
            break
        }
        'wsbeat;help;completions' {
            break
        }
        'wsbeat;help;man' {
            break
        }
        'wsbeat;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
