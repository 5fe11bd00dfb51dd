# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_wsbeat_global_optspecs
    string join \n h/help V/version
end

function __fish_wsbeat_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_wsbeat_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_wsbeat_using_subcommand
    set -l cmd (__fish_wsbeat_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c wsbeat -n "__fish_wsbeat_needs_command" -s h -l help -d 'Print help'
complete -c wsbeat -n "__fish_wsbeat_needs_command" -s V -l version -d 'Print version'
complete -c wsbeat -n "__fish_wsbeat_needs_command" -f -a "connect" -d 'Open a WebSocket and talk to it: stdin lines out, messages to stdout'
complete -c wsbeat -n "__fish_wsbeat_needs_command" -f -a "echo-server" -d 'A local echo server: RFC 6455 to the letter, heartbeat, broadcast, TLS, limits, faults'
complete -c wsbeat -n "__fish_wsbeat_needs_command" -f -a "ping" -d 'ping(8) for WebSockets: numbered Ping frames (or text heartbeats, or whole handshakes), loss, RTT, CI thresholds'
complete -c wsbeat -n "__fish_wsbeat_needs_command" -f -a "soak" -d 'Hold many connections for a long time: heartbeats, reconnects, loss accounting, live view'
complete -c wsbeat -n "__fish_wsbeat_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c wsbeat -n "__fish_wsbeat_needs_command" -f -a "man" -d 'Write the man pages (wsbeat.1 and one per subcommand) into DIR, e.g. ~/.local/share/man/man1'
complete -c wsbeat -n "__fish_wsbeat_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -s H -l header -d 'Extra request header, curl style (repeatable)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l origin -d 'Origin header to send' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -s s -l subprotocol -d 'Offer this subprotocol (repeatable, in order of preference); the chosen one is reported' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l auth -d 'HTTP Basic credentials; never printed' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l connect-timeout -d 'Give up opening the connection (DNS, TCP, TLS, upgrade) after this long' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l max-message-size -d 'Largest message accepted from the peer (e.g. 64MiB); a larger one closes with 1009 (a compressed one as soon as it inflates past it)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -s x -l proxy -d 'Go through this proxy: http:// (CONNECT), https://, socks5:// (DNS here) or socks5h:// (DNS at the proxy); \'\' for none. Overrides http_proxy, https_proxy, all_proxy. soak: repeat to spread connections over several, round robin' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l proxy-user -d 'Credentials for the proxy; never printed' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l noproxy -d 'Hosts that go direct, comma-separated: names (and their subdomains), IPs, CIDR ranges, or *; replaces no_proxy/NO_PROXY' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l max-redirs -d 'With -L: follow at most this many redirects' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l unix-socket -d 'Connect to this Unix socket; the URL still gives Host and path (or write ws+unix:///SOCK:/PATH)' -r -F
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l resolve -d 'Use ADDR for HOST:PORT instead of DNS, like curl (repeatable; ADDR may be a list: A,B)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l connect-to -d 'Connect to HOST2:PORT2 whenever the URL says HOST1:PORT1, like curl (repeatable; parts may be empty)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l compress -d 'Offer permessage-deflate (RFC 7692), optionally with parameters, e.g. \'client_max_window_bits=10; server_no_context_takeover\'; repeat to offer alternatives in order of preference' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l cacert -d 'Trust the CA certificate(s) in this PEM file instead of the bundled roots' -r -F
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l cert -d 'Client certificate (PEM), with --key' -r -F
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l key -d 'Private key for --cert (PEM)' -r -F
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l tls-server-name -d 'Send this name in SNI and verify the certificate against it instead of the URL\'s host' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l send -d 'A step: send this message ({seq} and {NAME} captured earlier are substituted); steps run in command-line order with --expect/--expect-json, before stdin (repeatable)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l send-uncompressed -d 'Send this message uncompressed (RSV1 clear) on a compressed connection, after --send and --send-file (repeatable): servers must accept it (RFC 7692 6)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l send-file -d 'Send this file as one binary message (after --send, before stdin)' -r -F
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l fragment-size -d 'Split every outgoing message into frames of N payload bytes (continuation frames)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l binary-format -d 'How to show received binary messages' -r -f -a "hex\t'Offset, hex bytes and printable characters, like `xxd`'
base64\t'One base64 line per message'
raw\t'The bytes as they are'"
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l ping-interval -d 'Send a numbered Ping frame this often and print each pong\'s round trip' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l close -d 'Close frame to send at the end: CODE[:REASON]' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l wait -d 'After the last input, wait this long for replies before closing (\'forever\': until the peer closes)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l expect -d 'A step: wait for a message matching this regular expression ((?P<NAME>...) captures {NAME}); other messages are shown and skipped (repeatable)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l expect-json -d 'A step: wait for a JSON message where POINTER (RFC 6901) exists, =TEXT, ==JSON or =>NAME (captures {NAME}), e.g. \'/type=welcome\' (repeatable)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l step-timeout -d 'How long each expect step may wait before the run fails (exit 1) (\'forever\': bounded only by --timeout)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l namespace -d 'The socket.io namespace to join' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l sio-auth -d 'The auth payload sent with the namespace CONNECT (a JSON object)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l emit -d 'A step: emit EVENT with JSON (an array is the argument list, anything else one argument; {NAME} captures substituted) (repeatable)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l emit-ack -d 'A step: emit EVENT with JSON and wait for its ack (--step-timeout), showing its round trip' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l expect-close -d 'The peer must close with this code' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l timeout -d 'Overall limit for the whole session' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l heartbeat -d 'Send a Ping frame when nothing was received for DUR; no answer in time ends the connection (exit 6), or reconnects with --reconnect' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l heartbeat-timeout -d 'How long a heartbeat may go unanswered before the peer is declared dead [default: the interval]' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l heartbeat-text -d 'Heartbeat with this text message instead of Ping frames ({seq} is replaced by a number)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l heartbeat-expect -d 'Regular expression a text reply to --heartbeat-text must match' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l backoff -d 'Wait between reconnect attempts: MIN..MAX, doubling from MIN' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l max-reconnects -d 'Attempts after one loss before giving up (exit 6)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l buffer -d 'Messages kept while the connection is down, sent in order after reconnecting' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l buffer-overflow -d 'Which message to drop when the buffer is full (every drop is reported)' -r -f -a "drop-oldest\t'Drop the oldest buffered message to make room'
drop-newest\t'Drop the message that does not fit'"
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l history -d 'Keep the interactive history in this file (read at start, appended as you go)' -r -F
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l color -d 'When to use colour (NO_COLOR and TERM=dumb also turn it off)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -s L -l location -d 'Follow redirects (301, 302, 303, 307, 308) of the upgrade; credentials only go to the first host'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -s k -l insecure -d 'Do not verify the server\'s certificate (prints a warning)'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l binary -d 'Send --send messages and stdin lines as binary messages instead of text'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l echo -d 'Send every received data message back with its type kept'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -s P -l show-control -d 'Show received pings and pongs'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l socketio -d 'Speak socket.io (Engine.IO v4 over WebSocket, socket.io v5): answer pings, join --namespace; implied by a URL path ending in /socket.io/'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l reconnect -d 'Reconnect when the connection is lost (backoff with jitter); the steps run again'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l resend-unconfirmed -d 'After a reconnect, send again the messages the lost connection may not have delivered (its TCP never acknowledged them), in order, before the buffered ones; the peer may see them twice'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l interactive -d 'Interactive session with a line editor (default when stdin and stdout are terminals)'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l no-interactive -d 'Scripted session even on a terminal'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l timestamps -d 'Prefix every interactive line with the seconds since the session started'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -l json -d 'Print one JSON event per line on stdout (NDJSON; schema in the README)'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -s v -l verbose -d 'Say more: sent messages, response headers'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand connect" -s V -l version -d 'Print version'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l listen -d 'Address to listen on: IP:PORT, or a port alone for 127.0.0.1 (port 0: any free port), or unix:PATH for a Unix socket (removed on exit). A non-loopback address is served only when given here, with a warning' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l ping-interval -d 'Ping every client after this long without a message from it; see --ping-timeout (with --socketio: Engine.IO\'s pingInterval)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l ping-timeout -d 'Terminate a client whose pong has not come back after this long [default: the interval]' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l broadcast-queue -d 'Messages a client may have waiting in broadcast mode; a client over it is closed with 1008 "slow consumer"' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l broadcast-queue-bytes -d 'Bytes a client may have waiting in broadcast mode (one message always fits); a client over it is closed with 1008 "slow consumer"' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l redis -d 'Share broadcast with every echo-server on this Redis (redis://[:PASSWORD@]HOST:PORT[/DB], rediss:// for TLS) and the same room, over pub/sub; with --replay, keep messages there. The password is never printed' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l room -d 'Put every client in this broadcast room [default: the request path, without its query]' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l replay -d 'Keep the last N broadcast messages of each room (in Redis with --redis, else in memory); a client that comes back (see --client-id) first gets what it missed, marked \'[replay seq=N] \', then live messages marked \'[seq=N] \'; ?since=SEQ in its URL says what it already has' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l replay-ttl -d 'How long kept messages and where each client stopped are remembered' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l client-id -d 'How a client is recognized for --replay: query:NAME (the URL\'s ?NAME=), header:NAME, or first-message (its first text message, not broadcast)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l replay-memory -d 'Without --redis: bytes of kept messages over all rooms; a message beyond it is sent marked \'[unstored] \' and counted' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -s s -l subprotocol -d 'Accept this subprotocol (repeatable); the first one the client offers that is accepted is chosen, and an upgrade that offers none of them gets 400' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l compress-params -d 'What the server insists on or allows with --compress, e.g. \'server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=10\'' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l max-connections -d 'Refuse upgrades beyond this many open connections with 503' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l max-message-size -d 'Largest message accepted (e.g. 64KiB); a larger one is answered with Close 1009' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l max-buffered -d 'What the server holds for all clients together (output waiting for clients that do not read, messages still arriving); beyond it, the client holding the most is closed with 1013 "try again later"' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l handshake-timeout -d 'Drop a socket that has not completed TLS and the upgrade within this long' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l idle-timeout -d 'Close a client that sent no message for this long with 1001 "idle timeout" (pings and pongs do not count) [default: off]' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l tls-cert -d 'Serve wss:// with this certificate chain (PEM), with --tls-key' -r -F
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l tls-key -d 'Private key for --tls-cert (PEM)' -r -F
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l close-after -d 'Close each connection after N messages (echoed first), with --close-code' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l close-code -d 'Close frame for --close-after: CODE[:REASON]' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l drop-after -d 'Drop the TCP connection without a Close frame after N messages (echoed first): the client sees 1006' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l delay -d 'Send every reply this much later' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l reject -d 'Refuse every upgrade with this HTTP status and a short body' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l fragment -d 'Send replies in frames of at most N payload bytes (continuation frames)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l drop-every -d 'Do not echo every Nth message of a connection (counted in the summary)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l duplicate-every -d 'Echo every Nth message of a connection twice' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l reorder-every -d 'Hold back every Nth message of a connection and echo it after the next one' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l corrupt-every -d 'Change a byte of every Nth echo of a connection (its last ASCII byte becomes another letter, so text stays valid UTF-8)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l fault-seed -d 'With the --*-every faults: hit random messages, each with probability 1/N, from this seed (mixed with the connection\'s number) instead of every Nth' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l sio-auth -d 'With --socketio: answer a CONNECT whose auth payload is not this JSON with CONNECT_ERROR' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l color -d 'When to use colour (NO_COLOR and TERM=dumb also turn it off)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l app-pong -d 'Answer the text message `ping` with `pong`, and a JSON `{"type":"ping",...}` with the same object plus "status":"pong" (application-level heartbeat of browser clients)'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l broadcast -d 'Send every message to every connected client (a chat room) instead of echoing it'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l compress -d 'Accept permessage-deflate (RFC 7692) offers: the first offer the server can honour is accepted, invalid ones are declined'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l tls-self-signed -d 'Serve wss:// with a certificate made at start for localhost, 127.0.0.1 and ::1; its SHA-256 fingerprint and the path of its PEM (for --cacert) are printed'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l no-pong -d 'Ignore Ping frames (to trigger clients\' heartbeat timeouts); with --socketio, send no Engine.IO pings'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l socketio -d 'Serve socket.io v4 (Engine.IO v4, polling and WebSocket) on /socket.io/: events are echoed to their sender (with --broadcast, to every socket in the namespace) and acks answered with the event\'s arguments; any namespace is accepted. Pings every --ping-interval [default: 25s], ends a client after --ping-timeout [default: 20s]'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -l json -d 'Print one JSON event per line on stdout (NDJSON; schema in the README)'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -s v -l verbose -d 'Say more: sent messages, response headers'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -s h -l help -d 'Print help'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand echo-server" -s V -l version -d 'Print version'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -s H -l header -d 'Extra request header, curl style (repeatable)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -l origin -d 'Origin header to send' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -l auth -d 'HTTP Basic credentials; never printed' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -l connect-timeout -d 'Give up opening the connection (DNS, TCP, TLS, upgrade) after this long' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -l max-message-size -d 'Largest message accepted from the peer (e.g. 64MiB); a larger one closes with 1009 (a compressed one as soon as it inflates past it)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -s x -l proxy -d 'Go through this proxy: http:// (CONNECT), https://, socks5:// (DNS here) or socks5h:// (DNS at the proxy); \'\' for none. Overrides http_proxy, https_proxy, all_proxy. soak: repeat to spread connections over several, round robin' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -l proxy-user -d 'Credentials for the proxy; never printed' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -l noproxy -d 'Hosts that go direct, comma-separated: names (and their subdomains), IPs, CIDR ranges, or *; replaces no_proxy/NO_PROXY' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -l max-redirs -d 'With -L: follow at most this many redirects' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -l unix-socket -d 'Connect to this Unix socket; the URL still gives Host and path (or write ws+unix:///SOCK:/PATH)' -r -F
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -l resolve -d 'Use ADDR for HOST:PORT instead of DNS, like curl (repeatable; ADDR may be a list: A,B)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -l connect-to -d 'Connect to HOST2:PORT2 whenever the URL says HOST1:PORT1, like curl (repeatable; parts may be empty)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -l compress -d 'Offer permessage-deflate (RFC 7692), optionally with parameters, e.g. \'client_max_window_bits=10; server_no_context_takeover\'; repeat to offer alternatives in order of preference' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -l cacert -d 'Trust the CA certificate(s) in this PEM file instead of the bundled roots' -r -F
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -l cert -d 'Client certificate (PEM), with --key' -r -F
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -l key -d 'Private key for --cert (PEM)' -r -F
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -l tls-server-name -d 'Send this name in SNI and verify the certificate against it instead of the URL\'s host' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -s c -l count -d 'Stop after N probes (default: until Ctrl-C or --deadline)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -s i -l interval -d 'Time between probes; sub-millisecond works (250us). 0: the next probe as soon as the last one is answered or timed out' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -s W -l timeout -d 'How long to wait for each reply; a reply after this is reported as late and counts as lost' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -s s -l size -d 'Ping payload size in bytes (8-125: control frames carry at most 125)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -s w -l deadline -d 'Stop after this long, however many probes were sent' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -l text -d 'Application-level probes: send this text message instead of a Ping frame ({seq} is replaced by the sequence number)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -l expect -d 'A reply is a text or binary message matching this regular expression (default: any message); others count as other traffic' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -l event -d 'The event to emit; the server must acknowledge it' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -l namespace -d 'The socket.io namespace to join' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -l sio-auth -d 'The auth payload sent with the namespace CONNECT (a JSON object)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -l max-loss -d 'Exit 1 when more than this percentage of probes got no reply in time (default: 0 with -c, else no limit)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -l max-rtt -d 'Exit 1 when the p99 round trip is over this' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -l max-rtt-each -d 'Exit 1 when any single round trip is over this' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -l min-replies -d 'Exit 1 when fewer than N replies came back in time' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -l report -d 'Also write the run as one self-contained HTML page (round trip over time, losses, distribution) to FILE' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -l color -d 'When to use colour (NO_COLOR and TERM=dumb also turn it off)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -l subprotocol -d 'Offer this subprotocol (repeatable, in order of preference); the chosen one is reported' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -s L -l location -d 'Follow redirects (301, 302, 303, 307, 308) of the upgrade; credentials only go to the first host'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -s k -l insecure -d 'Do not verify the server\'s certificate (prints a warning)'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -l socketio -d 'socket.io probes: emit --event with the sequence number and time its ack (implied by a URL path ending in /socket.io/)'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -l engineio -d 'Measure the server\'s Engine.IO heartbeat instead: the interval between the server\'s pings as this client sees them, and its jitter (mdev); nothing is sent but pongs'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -l connect-only -d 'Each probe opens a new connection, completes the handshake and closes with 1000; reports DNS/TCP/TLS/upgrade timings'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -s q -l quiet -d 'Print only the summary (and errors)'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -l json -d 'Print one JSON event per line on stdout (NDJSON; schema in the README)'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -s v -l verbose -d 'Say more: sent messages, response headers'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -s h -l help -d 'Print help'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand ping" -s V -l version -d 'Print version'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -s H -l header -d 'Extra request header, curl style (repeatable)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l origin -d 'Origin header to send' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -s s -l subprotocol -d 'Offer this subprotocol (repeatable, in order of preference); the chosen one is reported' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l auth -d 'HTTP Basic credentials; never printed' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l connect-timeout -d 'Give up opening the connection (DNS, TCP, TLS, upgrade) after this long' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l max-message-size -d 'Largest message accepted from the peer (e.g. 64MiB); a larger one closes with 1009 (a compressed one as soon as it inflates past it)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -s x -l proxy -d 'Go through this proxy: http:// (CONNECT), https://, socks5:// (DNS here) or socks5h:// (DNS at the proxy); \'\' for none. Overrides http_proxy, https_proxy, all_proxy. soak: repeat to spread connections over several, round robin' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l proxy-user -d 'Credentials for the proxy; never printed' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l noproxy -d 'Hosts that go direct, comma-separated: names (and their subdomains), IPs, CIDR ranges, or *; replaces no_proxy/NO_PROXY' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l max-redirs -d 'With -L: follow at most this many redirects' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l unix-socket -d 'Connect to this Unix socket; the URL still gives Host and path (or write ws+unix:///SOCK:/PATH)' -r -F
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l resolve -d 'Use ADDR for HOST:PORT instead of DNS, like curl (repeatable; ADDR may be a list: A,B)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l connect-to -d 'Connect to HOST2:PORT2 whenever the URL says HOST1:PORT1, like curl (repeatable; parts may be empty)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l compress -d 'Offer permessage-deflate (RFC 7692), optionally with parameters, e.g. \'client_max_window_bits=10; server_no_context_takeover\'; repeat to offer alternatives in order of preference' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l cacert -d 'Trust the CA certificate(s) in this PEM file instead of the bundled roots' -r -F
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l cert -d 'Client certificate (PEM), with --key' -r -F
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l key -d 'Private key for --cert (PEM)' -r -F
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l tls-server-name -d 'Send this name in SNI and verify the certificate against it instead of the URL\'s host' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -s c -l connections -d 'Connections to hold open' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l connect-rate -d 'Open at most this many new connections per second while ramping up (default: as fast as the server accepts)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -s d -l duration -d 'How long to run, counted from the start of the ramp-up' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l message-rate -d 'Messages per second on each connection (0: idle connections that only heartbeat)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l size -d 'Message size in bytes, header included (at least 33: the sequence header; at most 64MiB)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l fragment-size -d 'Split each message into frames of at most this many payload bytes' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l mode -d 'What the connections do: echo (match every echo), send (server does not echo), idle' -r -f -a "echo\t'Send numbered messages and match every echo (loss, duplicates, reordering, latency)'
send\t'Only send (for servers that do not echo); replies are counted, not matched'
idle\t'Only hold the connections and heartbeat'"
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l source-addrs -d 'Local addresses to connect from, round robin: a range 127.0.0.1-127.0.0.8 or a list a,b,c (one source address has ~28k ephemeral ports)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l heartbeat -d 'Ping every connection this often (0s: no heartbeat)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l heartbeat-timeout -d 'A heartbeat unanswered this long counts the connection dead (then it reconnects)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l heartbeat-text -d 'Heartbeat with this text message instead of Ping frames ({seq} becomes a number)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l heartbeat-expect -d 'The answer to --heartbeat-text: a text message matching this regular expression (default: the echo of the heartbeat)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l send -d 'A preamble step on every connection, after it opens and after every reconnect: send this message ({seq}, {NAME} captured earlier); in command-line order with --expect' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l expect -d 'A preamble step: wait for a message matching this regular expression' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l expect-json -d 'A preamble step: wait for a JSON message matching POINTER[=TEXT|==JSON|=>NAME]' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l step-timeout -d 'How long each preamble expect may wait before the connection counts as a preamble failure (it is closed and reconnects)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l scenario -d 'A TOML scenario: preamble steps, the message template and echo rule, think times (schema in the README; instead of --send/--expect/--expect-json)' -r -F
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l namespace -d 'The socket.io namespace every connection joins' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l sio-auth -d 'The auth payload of the namespace CONNECT (a JSON object)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l event -d 'The event the messages are emitted as, and that the server sends back' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l backoff -d 'Backoff between attempts: MIN..MAX, doubling, with jitter' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l max-reconnects -d 'Reconnects allowed per connection over the whole run (default: unlimited)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l buffer -d 'Messages kept per connection while it is down, replayed in order after the reconnect; overflow is counted as dropped' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l merge -d 'Merge the JSON reports of several runs (e.g. from several machines) into one and exit' -r -F
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l watch-pid -d 'Also sample this process\'s RSS (e.g. the server\'s) once a second' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l json -d 'Write the whole report as JSON to FILE (\'-\': stdout; the human summary then goes to stderr)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l report -d 'Write the report as one self-contained HTML page with charts of the run over time to FILE' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l color -d 'When to use colour (NO_COLOR and TERM=dumb also turn it off)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l max-loss -d 'Exit 1 when more messages than this were lost (missing, dropped, unsent, lost in flight, corrupted)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l max-p99 -d 'Exit 1 when the p99 message round trip is over this' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l max-errors -d 'Exit 1 when more errors than this were counted (all kinds)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l min-connections -d 'Exit 1 when fewer than N connections were open at the same time at the peak' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l coordinator -d 'Join a coordinated run: redis://[:PASSWORD@]HOST[:PORT]/RUN_ID (rediss:// for TLS). Every worker takes its share of -c, waits at a barrier for the others, and publishes its figures every second; `--lead` shows and reports the whole run' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l workers -d 'How many workers make the run (each takes 1/N of -c)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l worker-index -d 'This worker\'s slot, 0..N-1 (default: $JOB_COMPLETION_INDEX, else the order of joining)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l barrier-timeout -d 'How long the workers wait for each other before giving up (exit 6, naming the missing slots)' -r
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -s L -l location -d 'Follow redirects (301, 302, 303, 307, 308) of the upgrade; credentials only go to the first host'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -s k -l insecure -d 'Do not verify the server\'s certificate (prints a warning)'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l binary -d 'Send binary messages instead of text'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l socketio -d 'Speak socket.io (Engine.IO v4 over WebSocket) on every connection: join the namespace, answer the server\'s pings, emit the numbered messages as events and match the events the server sends back (implied by a URL whose path ends in /socket.io/)'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l reconnect -d 'Reconnect lost connections (the default in soak)'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l no-reconnect -d 'A lost connection stays down'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l server-replay -d 'The server replays what a connection missed (echo-server --replay, or one that marks messages alike): strip its \'[seq=N] \' marks before matching, reconnect with ?since=<the highest N received>, and await the messages in flight at a loss on the new connection instead of sending them again. Use {conn} in the URL for a room and client id per connection, e.g. ws://HOST/room-{conn}?user=u{conn}'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l no-live -d 'No live view: a plain status line every few seconds on stderr even on a terminal'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -l lead -d 'Open no connection: show the whole run live, then write the merged report and check the thresholds on it'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand soak" -s V -l version -d 'Print version'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand completions" -s h -l help -d 'Print help'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand completions" -s V -l version -d 'Print version'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand man" -s h -l help -d 'Print help'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand man" -s V -l version -d 'Print version'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand help; and not __fish_seen_subcommand_from connect echo-server ping soak completions man help" -f -a "connect" -d 'Open a WebSocket and talk to it: stdin lines out, messages to stdout'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand help; and not __fish_seen_subcommand_from connect echo-server ping soak completions man help" -f -a "echo-server" -d 'A local echo server: RFC 6455 to the letter, heartbeat, broadcast, TLS, limits, faults'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand help; and not __fish_seen_subcommand_from connect echo-server ping soak completions man help" -f -a "ping" -d 'ping(8) for WebSockets: numbered Ping frames (or text heartbeats, or whole handshakes), loss, RTT, CI thresholds'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand help; and not __fish_seen_subcommand_from connect echo-server ping soak completions man help" -f -a "soak" -d 'Hold many connections for a long time: heartbeats, reconnects, loss accounting, live view'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand help; and not __fish_seen_subcommand_from connect echo-server ping soak completions man help" -f -a "completions" -d 'Print a shell completion script'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand help; and not __fish_seen_subcommand_from connect echo-server ping soak completions man help" -f -a "man" -d 'Write the man pages (wsbeat.1 and one per subcommand) into DIR, e.g. ~/.local/share/man/man1'
complete -c wsbeat -n "__fish_wsbeat_using_subcommand help; and not __fish_seen_subcommand_from connect echo-server ping soak completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
