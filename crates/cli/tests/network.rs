//! Network: the sandbox has its own namespace with only loopback. A direct
//! connection elsewhere fails at once (ENETUNREACH, not a timeout); loopback
//! inside works; the host's loopback is a different one.
//!
//! Hard rule: the only non-loopback destination is TEST-NET-1 (192.0.2.1),
//! and only from inside the sandbox's namespace, which has no route there.

mod common;
use common::*;

#[test]
fn direct_connection_to_test_net_is_unreachable() {
    for_each_identity("direct_connection_to_test_net_is_unreachable", |env| {
        let code = r#"
import socket, errno, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(5)
t = time.monotonic()
try:
    s.connect(("192.0.2.1", 80))
    print("CONNECTED")
except socket.timeout:
    print("TIMEOUT")
except OSError as e:
    print("errno", e.errno, errno.errorcode.get(e.errno), e.strerror)
print("elapsed %.3f" % (time.monotonic() - t))
"#;
        env.py(&[], code)
            .code(0)
            .stdout_has("errno 101 ENETUNREACH Network is unreachable")
            .lacks("TIMEOUT")
            .lacks("CONNECTED");
    });
}

#[test]
fn udp_to_test_net_is_unreachable() {
    for_each_identity("udp_to_test_net_is_unreachable", |env| {
        let code = r#"
import socket, errno
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.sendto(b"x", ("192.0.2.1", 53))
    print("SENT")
except OSError as e:
    print("errno", e.errno, errno.errorcode.get(e.errno))
"#;
        env.py(&[], code)
            .code(0)
            .stdout_has("errno 101 ENETUNREACH")
            .lacks("SENT");
    });
}

#[test]
fn only_loopback_interface_exists() {
    for_each_identity("only_loopback_interface_exists", |env| {
        env.sh(&[], "ls /sys/class/net; cat /proc/net/route | wc -l")
            .code(0)
            .stdout_has("lo\n")
            // /proc/net/route: just the header line, no routes at all.
            .stdout_has("\n1\n");
    });
}

#[test]
fn loopback_inside_the_sandbox_works() {
    for_each_identity("loopback_inside_the_sandbox_works", |env| {
        let code = r#"
import socket, threading
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
port = srv.getsockname()[1]
def serve():
    c, _ = srv.accept()
    c.sendall(b"pong:" + c.recv(100))
    c.close()
t = threading.Thread(target=serve)
t.start()
cl = socket.create_connection(("127.0.0.1", port), timeout=5)
cl.sendall(b"ping")
print(cl.recv(100).decode())
t.join()
"#;
        env.py(&[], code).code(0).stdout_has("pong:ping");
    });
}

#[test]
fn host_loopback_listener_is_not_reachable() {
    for_each_identity("host_loopback_listener_is_not_reachable", |env| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind host loopback");
        let port = listener.local_addr().expect("addr").port();
        let code = format!(
            r#"
import socket, errno
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=5)
    print("CONNECTED")
except OSError as e:
    print("errno", e.errno, errno.errorcode.get(e.errno))
"#
        );
        env.py(&[], &code)
            .code(0)
            .stdout_has("errno 111 ECONNREFUSED")
            .lacks("CONNECTED");
        drop(listener);
    });
}
