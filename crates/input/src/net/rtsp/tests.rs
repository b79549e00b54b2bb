//! Unit tests of the RTSP source's URL, error and runtime handling (no server).

use super::*;

#[test]
fn credentials_leave_the_url_and_are_decoded() {
    let (url, creds) = split_credentials("rtsp://us%40er:p%3Ass@127.0.0.1:8554/clip").unwrap();
    assert_eq!(url.as_str(), "rtsp://127.0.0.1:8554/clip");
    let creds = creds.unwrap();
    assert_eq!(creds.username, "us@er");
    assert_eq!(creds.password, "p:ss");
    assert!(!format!("{creds:?}").contains("p:ss"));
}

#[test]
fn bad_urls_are_address_errors_without_the_password() {
    for url in [
        "http://u:secret@host/x",
        "rtsp://",
        "not a url",
        "rtsp:///path",
    ] {
        match split_credentials(url) {
            Err(ReadError::Network(NetworkError::Address { url: shown, .. })) => {
                assert!(!shown.contains("secret"), "{shown}");
            }
            other => panic!("{url}: {other:?}"),
        }
    }
}

#[test]
fn calls_inside_a_tokio_runtime_are_refused_not_a_panic() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let result = runtime
        .block_on(async { RtspSource::open("rtsp://127.0.0.1:9/clip", RtspOptions::default()) });
    match result {
        Err(ReadError::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::Unsupported),
        other => panic!("{other:?}"),
    }
}

#[test]
fn os_error_codes_survive_the_message() {
    let e = os_error("Unable to connect to RTSP server: Connection refused (os error 111)");
    assert_eq!(e.raw_os_error(), Some(111));
    assert_eq!(os_error("Timeout").kind(), std::io::ErrorKind::Other);
    assert_eq!(
        os_error("x (os error 99999999999)").kind(),
        std::io::ErrorKind::Other
    );
}
