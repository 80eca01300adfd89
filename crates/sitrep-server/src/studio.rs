//! The handlers of `/api/v1/studio`: the workspace folder's rules, commands, workflows and
//! knowledge notes as text, checked by the engine's validators (`docs/ui.md`, the Studio).
//! Reading and checking take any role; saving and deleting take an admin (the route table).

use crate::Ws;
use crate::error::ApiResult;
use axum::Json;
use axum::extract::Path;
use axum::response::IntoResponse;
use serde::Deserialize;
use sitrep_engine::studio::StudioKind;

/// The text of a file to check or save.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextBody {
    text: String,
}

/// A kind and a file name, as the path gives them.
#[derive(Debug, Deserialize)]
pub struct FilePath {
    kind: String,
    name: String,
}

pub async fn list(Ws(s): Ws, Path(kind): Path<String>) -> ApiResult<impl IntoResponse> {
    Ok(Json(s.studio_list(kind.parse()?).await?))
}

pub async fn read(Ws(s): Ws, Path(p): Path<FilePath>) -> ApiResult<impl IntoResponse> {
    let kind: StudioKind = p.kind.parse()?;
    Ok(Json(s.studio_read(kind, &p.name).await?))
}

pub async fn check(
    Ws(s): Ws,
    Path(p): Path<FilePath>,
    Json(b): Json<TextBody>,
) -> ApiResult<impl IntoResponse> {
    let kind: StudioKind = p.kind.parse()?;
    Ok(Json(s.studio_check(kind, &p.name, &b.text).await?))
}

pub async fn save(
    Ws(s): Ws,
    Path(p): Path<FilePath>,
    Json(b): Json<TextBody>,
) -> ApiResult<impl IntoResponse> {
    let kind: StudioKind = p.kind.parse()?;
    Ok(Json(s.studio_save(kind, &p.name, &b.text).await?))
}

pub async fn delete(Ws(s): Ws, Path(p): Path<FilePath>) -> ApiResult<impl IntoResponse> {
    let kind: StudioKind = p.kind.parse()?;
    Ok(Json(s.studio_delete(kind, &p.name).await?))
}
