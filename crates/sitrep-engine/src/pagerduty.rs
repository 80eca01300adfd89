//! PagerDuty's REST API v2: a note on the incident that started a session
//! (<https://developer.pagerduty.com/api-reference/3df2b685a0dbc-create-a-note-on-an-incident>),
//! `POST /incidents/{id}/notes` with `Authorization: Token token=KEY`, the author's email in
//! `From`, and `{"note": {"content": TEXT}}`; PagerDuty answers 201 with the note.

use crate::deliver::Failure;
use serde_json::json;

/// PagerDuty's own base URL, when a target names none.
pub(crate) const API_URL: &str = "https://api.pagerduty.com";
/// PagerDuty keeps notes of up to 25,000 characters.
const MAX_NOTE: usize = 25_000;

/// Adds `text` as a note on `incident`, written as the user `from`.
pub(crate) async fn add_note(
    client: &reqwest::Client,
    api_url: &str,
    token: &str,
    from: &str,
    incident: &str,
    text: &str,
) -> Result<(), Failure> {
    if incident.is_empty() || !incident.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(Failure::GiveUp(format!(
            "{incident:?} is not a PagerDuty incident id"
        )));
    }
    let url = format!(
        "{}/incidents/{incident}/notes",
        api_url.trim_end_matches('/')
    );
    let content: String = text.chars().take(MAX_NOTE).collect();
    let res = client
        .post(&url)
        .header("authorization", format!("Token token={token}"))
        .header("from", from)
        .header("accept", "application/vnd.pagerduty+json;version=2")
        .json(&json!({"note": {"content": content}}))
        .send()
        .await
        .map_err(|e| {
            Failure::Retry(format!(
                "cannot reach PagerDuty's REST API: {}",
                e.without_url()
            ))
        })?;
    if res.status().is_success() {
        return Ok(());
    }
    Err(crate::deliver::refused("PagerDuty", res).await)
}
