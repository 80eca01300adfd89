//! The map's queries: every resource and edge of a workspace, read and replaced whole.

use crate::rows::{json_text, placeholders};
use crate::sql::SqlStore;
use crate::{Result, StoreError};
use sitrep_core::Timestamp;
use sitrep_core::map::{Edge, StoredEdge, StoredMap, StoredResource};
use sqlx::Row;

pub async fn load(s: &SqlStore, workspace: &str) -> Result<StoredMap> {
    let rows = sqlx::query(s.q(
        "SELECT spec, stale, first_seen, last_seen FROM resources WHERE workspace = $1 ORDER BY key",
    ))
    .bind(workspace)
    .fetch_all(&s.pool)
    .await?;
    let corrupt = |table: &'static str, e: String| StoreError::Corrupt { table, message: e };
    let resources = rows
        .iter()
        .map(|r| {
            let spec: String = r.try_get("spec")?;
            Ok(StoredResource {
                resource: serde_json::from_str(&spec)
                    .map_err(|e| corrupt("resources", e.to_string()))?,
                stale: r.try_get::<i64, _>("stale")? != 0,
                first_seen: Timestamp(r.try_get("first_seen")?),
                last_seen: Timestamp(r.try_get("last_seen")?),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let rows = sqlx::query(s.q(
        "SELECT from_key, to_key, kind, last_seen FROM edges WHERE workspace = $1 ORDER BY from_key, to_key, kind",
    ))
    .bind(workspace)
    .fetch_all(&s.pool)
    .await?;
    let edges = rows
        .iter()
        .map(|r| {
            let kind: String = r.try_get("kind")?;
            Ok(StoredEdge {
                edge: Edge {
                    from: r.try_get("from_key")?,
                    to: r.try_get("to_key")?,
                    kind: kind.parse().map_err(|e: String| corrupt("edges", e))?,
                },
                last_seen: Timestamp(r.try_get("last_seen")?),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(StoredMap { resources, edges })
}

pub async fn replace(s: &SqlStore, workspace: &str, map: &StoredMap) -> Result<()> {
    // Multi-row inserts: a 5,000-object cluster is ten statements, not 5,000 round trips.
    const CHUNK: usize = 500;
    let mut tx = s.pool.begin().await?;
    for table in ["resources", "edges"] {
        sqlx::query(s.q(&format!("DELETE FROM {table} WHERE workspace = $1")))
            .bind(workspace)
            .execute(&mut *tx)
            .await?;
    }
    for chunk in map.resources.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO resources (workspace, key, kind, name, spec, stale, first_seen, last_seen) VALUES {}",
            placeholders(chunk.len(), 8)
        );
        let mut q = sqlx::query(s.q(&sql));
        for r in chunk {
            q = q
                .bind(workspace)
                .bind(&r.resource.key)
                .bind(&r.resource.kind)
                .bind(&r.resource.name)
                .bind(json_text(&r.resource))
                .bind(i64::from(r.stale))
                .bind(r.first_seen.0)
                .bind(r.last_seen.0);
        }
        q.execute(&mut *tx).await?;
    }
    for chunk in map.edges.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO edges (workspace, from_key, to_key, kind, last_seen) VALUES {}",
            placeholders(chunk.len(), 5)
        );
        let mut q = sqlx::query(s.q(&sql));
        for e in chunk {
            q = q
                .bind(workspace)
                .bind(&e.edge.from)
                .bind(&e.edge.to)
                .bind(e.edge.kind.as_str())
                .bind(e.last_seen.0);
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}
