//! A deliberately tiny Redis client: RESP2 over a `TcpStream`, a handful of
//! pooled connections, a timeout on every call, and an optional injected
//! latency before each call (the sandbox's `shopfront-slow-dependency` fault).

use std::sync::Mutex;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Simple(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

#[derive(Debug)]
pub enum RedisError {
    /// The server answered with an error reply (e.g. `OOM command not allowed ...`).
    Server(String),
    Io(String),
    Timeout,
}

impl std::fmt::Display for RedisError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RedisError::Server(s) => write!(f, "redis error: {s}"),
            RedisError::Io(s) => write!(f, "redis connection error: {s}"),
            RedisError::Timeout => f.write_str("redis timeout"),
        }
    }
}

type Conn = BufReader<TcpStream>;

pub struct Redis {
    addr: String,
    timeout: Duration,
    injected_latency: Duration,
    idle: Mutex<Vec<Conn>>,
}

const MAX_IDLE: usize = 8;

impl Redis {
    pub fn new(addr: String, timeout: Duration, injected_latency: Duration) -> Self {
        Self {
            addr,
            timeout,
            injected_latency,
            idle: Mutex::new(Vec::new()),
        }
    }

    pub async fn cmd(&self, args: &[&[u8]]) -> Result<Reply, RedisError> {
        if !self.injected_latency.is_zero() {
            tokio::time::sleep(self.injected_latency).await;
        }
        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let fut = async {
            let mut conn = match pooled {
                Some(c) => c,
                None => {
                    let s = TcpStream::connect(&self.addr)
                        .await
                        .map_err(|e| RedisError::Io(e.to_string()))?;
                    let _ = s.set_nodelay(true);
                    BufReader::new(s)
                }
            };
            let mut buf = Vec::with_capacity(64);
            encode(&mut buf, args);
            conn.get_mut()
                .write_all(&buf)
                .await
                .map_err(|e| RedisError::Io(e.to_string()))?;
            let reply = read_reply(&mut conn).await?;
            Ok::<_, RedisError>((conn, reply))
        };
        match tokio::time::timeout(self.timeout, fut).await {
            Err(_) => Err(RedisError::Timeout),
            Ok(Err(e)) => Err(e),
            Ok(Ok((conn, reply))) => {
                let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
                if idle.len() < MAX_IDLE {
                    idle.push(conn);
                }
                drop(idle);
                match reply {
                    Err(msg) => Err(RedisError::Server(msg)),
                    Ok(r) => Ok(r),
                }
            }
        }
    }

    pub async fn ping(&self) -> Result<(), RedisError> {
        self.cmd(&[b"PING"]).await.map(|_| ())
    }

    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, RedisError> {
        match self.cmd(&[b"GET", key.as_bytes()]).await? {
            Reply::Bulk(v) => Ok(v),
            other => Err(RedisError::Io(format!(
                "unexpected reply to GET: {other:?}"
            ))),
        }
    }

    pub async fn set_ex(&self, key: &str, value: &[u8], secs: u64) -> Result<(), RedisError> {
        let secs = secs.to_string();
        self.cmd(&[b"SET", key.as_bytes(), value, b"EX", secs.as_bytes()])
            .await
            .map(|_| ())
    }

    pub async fn incr(&self, key: &str) -> Result<i64, RedisError> {
        match self.cmd(&[b"INCR", key.as_bytes()]).await? {
            Reply::Int(i) => Ok(i),
            other => Err(RedisError::Io(format!(
                "unexpected reply to INCR: {other:?}"
            ))),
        }
    }
}

pub fn encode(buf: &mut Vec<u8>, args: &[&[u8]]) {
    buf.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        buf.extend_from_slice(a);
        buf.extend_from_slice(b"\r\n");
    }
}

/// Reads one reply. The outer `Result` is the transport; the inner one is an
/// error reply from the server (the connection stays usable after one).
async fn read_reply<R: tokio::io::AsyncBufRead + Unpin>(
    r: &mut R,
) -> Result<Result<Reply, String>, RedisError> {
    Box::pin(async move {
        let line = read_line(r).await?;
        let (kind, rest) = line.split_at(1);
        match kind {
            "+" => Ok(Ok(Reply::Simple(rest.to_string()))),
            "-" => Ok(Err(rest.to_string())),
            ":" => rest
                .parse()
                .map(|i| Ok(Reply::Int(i)))
                .map_err(|_| RedisError::Io(format!("bad integer {rest:?}"))),
            "$" => {
                let n: i64 = rest
                    .parse()
                    .map_err(|_| RedisError::Io(format!("bad length {rest:?}")))?;
                if n < 0 {
                    return Ok(Ok(Reply::Bulk(None)));
                }
                let mut data = vec![0u8; n as usize + 2];
                r.read_exact(&mut data)
                    .await
                    .map_err(|e| RedisError::Io(e.to_string()))?;
                data.truncate(n as usize);
                Ok(Ok(Reply::Bulk(Some(data))))
            }
            "*" => {
                let n: i64 = rest
                    .parse()
                    .map_err(|_| RedisError::Io(format!("bad length {rest:?}")))?;
                let mut items = Vec::new();
                for _ in 0..n.max(0) {
                    match read_reply(r).await? {
                        Ok(item) => items.push(item),
                        Err(e) => return Ok(Err(e)),
                    }
                }
                Ok(Ok(Reply::Array(items)))
            }
            _ => Err(RedisError::Io(format!("unexpected reply {line:?}"))),
        }
    })
    .await
}

async fn read_line<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> Result<String, RedisError> {
    let mut line = String::new();
    let n = r
        .read_line(&mut line)
        .await
        .map_err(|e| RedisError::Io(e.to_string()))?;
    if n == 0 {
        return Err(RedisError::Io("connection closed by server".into()));
    }
    let line = line.trim_end_matches(['\r', '\n']).to_string();
    if line.is_empty() {
        return Err(RedisError::Io("empty reply line".into()));
    }
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_commands() {
        let mut b = Vec::new();
        encode(&mut b, &[b"SET", b"k", b"v"]);
        assert_eq!(b, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
    }

    #[tokio::test]
    async fn parses_replies() {
        let data: &[u8] = b"+OK\r\n:42\r\n$3\r\nabc\r\n$-1\r\n*2\r\n:1\r\n$1\r\nx\r\n-OOM command not allowed\r\n";
        let mut r = BufReader::new(data);
        assert_eq!(
            read_reply(&mut r).await.unwrap().unwrap(),
            Reply::Simple("OK".into())
        );
        assert_eq!(read_reply(&mut r).await.unwrap().unwrap(), Reply::Int(42));
        assert_eq!(
            read_reply(&mut r).await.unwrap().unwrap(),
            Reply::Bulk(Some(b"abc".to_vec()))
        );
        assert_eq!(
            read_reply(&mut r).await.unwrap().unwrap(),
            Reply::Bulk(None)
        );
        assert_eq!(
            read_reply(&mut r).await.unwrap().unwrap(),
            Reply::Array(vec![Reply::Int(1), Reply::Bulk(Some(b"x".to_vec()))])
        );
        assert_eq!(
            read_reply(&mut r).await.unwrap().unwrap_err(),
            "OOM command not allowed"
        );
    }
}
