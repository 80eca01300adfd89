//! The handlers of `/api/v1/secrets`: the workspace's vault, write-only. No answer carries a
//! value: a set or a delete answers with the secret's name and times.

use crate::Ws;
use crate::error::ApiResult;
use axum::Json;
use axum::extract::Path;
use axum::response::IntoResponse;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretBody {
    value: String,
}

/// The value never reaches a log or an error through `Debug`.
impl std::fmt::Debug for SecretBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBody { value: <hidden> }")
    }
}

pub async fn list(Ws(s): Ws) -> ApiResult<impl IntoResponse> {
    Ok(Json(s.secrets().await?))
}

pub async fn set(
    Ws(s): Ws,
    Path(name): Path<String>,
    Json(b): Json<SecretBody>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(s.set_secret(&name, &b.value).await?))
}

pub async fn delete(Ws(s): Ws, Path(name): Path<String>) -> ApiResult<impl IntoResponse> {
    Ok(Json(s.delete_secret(&name).await?))
}
