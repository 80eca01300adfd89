//! Email deliveries over SMTP (lettre): plain text, to a relay named `smtp://host:port`
//! (no authentication and no TLS: a local or trusted relay). The delivery's id is the
//! Message-ID, so a receiver can drop a retried duplicate.

use crate::deliver::Failure;
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sitrep_core::delivery::Report;

pub(crate) async fn send(
    smtp: &str,
    from: &str,
    to: &[String],
    id: &str,
    report: &Report,
) -> Result<(), Failure> {
    let url = reqwest::Url::parse(smtp)
        .map_err(|e| Failure::GiveUp(format!("{smtp:?} is not smtp://host:port: {e}")))?;
    let host = url
        .host_str()
        .ok_or_else(|| Failure::GiveUp(format!("{smtp:?} names no host")))?;
    let port = url.port().unwrap_or(25);
    let mailbox = |a: &str| {
        a.parse::<Mailbox>()
            .map_err(|e| Failure::GiveUp(format!("{a:?} is not an email address: {e}")))
    };
    let mut msg = Message::builder()
        .from(mailbox(from)?)
        .message_id(Some(format!("<{id}@sitrep>")))
        .subject(format!("[sitrep] {}", report.headline()));
    for a in to {
        msg = msg.to(mailbox(a)?);
    }
    let msg = msg
        .header(ContentType::TEXT_PLAIN)
        .body(report.text())
        .map_err(|e| Failure::GiveUp(format!("cannot write the email: {e}")))?;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(port)
        .build();
    match transport.send(msg).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_permanent() => {
            Err(Failure::GiveUp(format!("the mail server refused it: {e}")))
        }
        Err(e) => Err(Failure::Retry(format!(
            "cannot send through {host}:{port}: {e}"
        ))),
    }
}
