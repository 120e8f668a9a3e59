//! The server side of both adapters over real loopback sockets: a scripted plaintext client,
//! events reaching the application, answers reaching the client, deadlines from the session.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mailtls::io::{blocking, Answer, SessionEnd};
use mailtls::server::{CloseReason, ServerConfig, ServerEvent};
use mailtls::smtp::{Code, EnhancedCode, Reply};

/// What the application saw.
#[derive(Default, Debug)]
struct Seen {
    events: Vec<String>,
    data: Vec<u8>,
}

fn app(seen: Arc<Mutex<Seen>>) -> impl FnMut(&ServerEvent) -> Answer {
    move |event| {
        let mut seen = seen.lock().unwrap();
        match event {
            ServerEvent::MessageData(chunk) => seen.data.extend_from_slice(chunk),
            ServerEvent::RcptTo(rcpt) if rcpt.to.to_string().contains("refuse") => {
                seen.events.push("RcptTo(refused)".into());
                return Answer::Reject(
                    Reply::new(
                        Code::MAILBOX_UNAVAILABLE,
                        EnhancedCode::new(5, 1, 1),
                        "no such user",
                    )
                    .unwrap(),
                );
            }
            ServerEvent::MessageEnd { size } => {
                seen.events.push(format!("MessageEnd({size})"));
                return Answer::AcceptWith("queued as T1".into());
            }
            other => seen
                .events
                .push(format!("{other:?}").chars().take(40).collect()),
        }
        Answer::Accept
    }
}

const SCRIPT: &[u8] = b"EHLO client.test\r\nMAIL FROM:<a@client.test>\r\nRCPT TO:<b@server.test>\r\nRCPT TO:<refuse@server.test>\r\nDATA\r\n";

/// Speaks a pipelined plaintext transaction and returns every reply line.
fn client(addr: std::net::SocketAddr) -> Vec<String> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut lines = Vec::new();
    let mut read_reply = |lines: &mut Vec<String>| loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let done = line.as_bytes().get(3) == Some(&b' ');
        lines.push(line.trim_end().to_owned());
        if done || line.is_empty() {
            break;
        }
    };
    read_reply(&mut lines); // greeting
    stream.write_all(SCRIPT).unwrap();
    for _ in 0..5 {
        read_reply(&mut lines);
    }
    stream
        .write_all(b"Subject: t\r\n\r\n..dot\r\nbody\r\n.\r\nQUIT\r\n")
        .unwrap();
    read_reply(&mut lines);
    read_reply(&mut lines);
    lines
}

fn check(lines: &[String], seen: &Seen, end: &SessionEnd) {
    assert!(lines[0].starts_with("220 "), "{lines:?}");
    let codes: Vec<&str> = lines
        .iter()
        .filter(|l| l.as_bytes().get(3) == Some(&b' '))
        .map(|l| &l[..3])
        .collect();
    assert!(
        seen.events.contains(&"RcptTo(refused)".to_owned()),
        "{:?}",
        seen.events
    );
    assert_eq!(
        codes,
        ["220", "250", "250", "250", "550", "354", "250", "221"]
    );
    assert!(
        lines.iter().any(|l| l == "250 2.0.0 queued as T1"),
        "{lines:?}"
    );
    assert_eq!(seen.data, b"Subject: t\r\n\r\n.dot\r\nbody\r\n");
    assert!(
        seen.events.contains(&"RcptTo(refused)".to_owned()),
        "{:?}",
        seen.events
    );
    assert!(
        seen.events.contains(&"MessageEnd(26)".to_owned()),
        "{:?}",
        seen.events
    );
    assert_eq!(end.reason, Some(CloseReason::Quit));
    assert!(end.tls.is_none());
    assert!(end.bytes_in > 0 && end.bytes_out > 0);
}

#[test]
fn blocking_server_hands_events_to_the_application_and_answers_the_client() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let server = std::thread::spawn({
        let seen = Arc::clone(&seen);
        move || {
            let (stream, peer) = listener.accept().unwrap();
            let config = Arc::new(ServerConfig::new("mx.server.test"));
            blocking::serve_connection(stream, peer, config, &mut app(seen)).unwrap()
        }
    });
    let lines = client(addr);
    let end = server.join().unwrap();
    check(&lines, &seen.lock().unwrap(), &end);
}

#[cfg(feature = "tokio")]
#[test]
fn tokio_server_hands_events_to_the_application_and_answers_the_client() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let server = runtime.spawn({
        let seen = Arc::clone(&seen);
        async move {
            let config = Arc::new(ServerConfig::new("mx.server.test"));
            mailtls::io::tokio::serve_one(&listener, config, &mut app(seen))
                .await
                .unwrap()
        }
    });
    let lines = client(addr);
    let end = runtime.block_on(server).unwrap();
    check(&lines, &seen.lock().unwrap(), &end);
}

/// The session's command deadline becomes the socket's read deadline: a silent client is
/// answered 421 4.4.2 and disconnected on time, not after the OS gives up.
#[test]
fn blocking_server_enforces_the_session_deadline() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (stream, peer) = listener.accept().unwrap();
        let mut config = ServerConfig::new("mx.server.test");
        config.timeouts.command = Duration::from_millis(300);
        let mut app = |_: &ServerEvent| Answer::Accept;
        blocking::serve_connection(stream, peer, Arc::new(config), &mut app).unwrap()
    });
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut all = String::new();
    stream.read_to_string(&mut all).unwrap();
    let elapsed = started.elapsed();
    assert!(all.starts_with("220 "), "{all}");
    assert!(all.contains("\r\n421 4.4.2 "), "{all}");
    assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert_eq!(server.join().unwrap().reason, Some(CloseReason::Timeout));
}

#[cfg(feature = "tokio")]
#[test]
fn tokio_server_enforces_the_session_deadline() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let end = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::task::spawn_blocking(move || {
            let mut stream = TcpStream::connect(addr).unwrap();
            let mut all = String::new();
            stream.read_to_string(&mut all).unwrap();
            all
        });
        let mut config = ServerConfig::new("mx.server.test");
        config.timeouts.command = Duration::from_millis(300);
        let mut app = |_: &ServerEvent| Answer::Accept;
        let end = mailtls::io::tokio::serve_one(&listener, Arc::new(config), &mut app)
            .await
            .unwrap();
        let all = client.await.unwrap();
        assert!(all.contains("\r\n421 4.4.2 "), "{all}");
        end
    });
    assert_eq!(end.reason, Some(CloseReason::Timeout));
}
