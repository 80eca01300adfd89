//! The model's read tools: search the tasks, list issues and insights, search the knowledge,
//! the Map around a resource. Each is a thin wrapper over the engine call the API and MCP
//! make; they change nothing, so the calls of one answer run side by side, and the model is
//! answered within the same round before it proposes. What they return was written by
//! monitored systems and people: it goes back capped, fenced as data and redacted.

use super::LlmReasoner;
use crate::IssueQuery;
use crate::MapQuery;
use serde_json::{Value, json};
use sitrep_core::TaskKind;
use sitrep_core::protocol::cap;
use sitrep_llm::{ToolCall, ToolDefinition};
use std::collections::BTreeMap;

/// The longest answer one read tool gives the model.
const ANSWER_CAP: usize = 4_000;
/// Items one read tool lists at most.
const MAX_ITEMS: usize = 12;

/// Whether the model's call is one of the read tools.
pub(super) fn is_read(name: &str) -> bool {
    matches!(
        name,
        "search_tasks" | "list_issues" | "list_insights" | "search_knowledge" | "map_around"
    )
}

pub(super) fn tools() -> Vec<ToolDefinition> {
    let resource = json!({"type": "string", "description": "a Map resource name"});
    vec![
        super::prompt::tool(
            "search_tasks",
            "Search the task library by words (name, description, tags). Read-only; answered before you go on.",
            json!({"query": {"type": "string"}}),
            &["query"],
        ),
        super::prompt::tool(
            "list_issues",
            "The open issues, most current and most severe first, of one resource or all. Read-only.",
            json!({"resource": resource}),
            &[],
        ),
        super::prompt::tool(
            "list_insights",
            "The current insights (what recent task runs observed), of one resource or all. Read-only.",
            json!({"resource": resource}),
            &[],
        ),
        super::prompt::tool(
            "search_knowledge",
            "Search the workspace's knowledge (runbooks, postmortems, notes). Read-only.",
            json!({"query": {"type": "string"}}),
            &["query"],
        ),
        super::prompt::tool(
            "map_around",
            "What one resource depends on and what depends on it, from the Map. Read-only.",
            json!({"resource": resource}),
            &["resource"],
        ),
    ]
}

fn text_arg(call: &ToolCall, key: &str) -> Option<String> {
    super::arg(call, key)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// How well a task matches the words of a query: two for each word in its name, one for
/// each word only in its description or tags.
fn task_score(words: &[String], name: &str, text: &str) -> usize {
    words
        .iter()
        .map(|w| {
            if name.contains(w.as_str()) {
                2
            } else {
                usize::from(text.contains(w.as_str()))
            }
        })
        .sum()
}

impl LlmReasoner {
    /// Answers one read call: the engine's result as compact JSON, or why it failed.
    pub(super) async fn look(&self, call: &ToolCall) -> std::result::Result<Value, String> {
        let s = &self.sitrep;
        let resource = text_arg(call, "resource");
        let err = |e: crate::EngineError| e.to_string();
        match call.name.as_str() {
            "search_tasks" => {
                let query = text_arg(call, "query").ok_or("give a query")?;
                let words: Vec<String> = query
                    .to_lowercase()
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| w.len() >= 2)
                    .map(str::to_string)
                    .collect();
                let mut hits: Vec<(usize, Value)> = s
                    .tasks(None)
                    .await
                    .map_err(err)?
                    .into_iter()
                    .filter_map(|t| {
                        let text = format!("{} {}", t.description, t.tags.join(" "));
                        let score =
                            task_score(&words, &t.task.to_lowercase(), &text.to_lowercase());
                        (score > 0).then(|| {
                            (
                                score,
                                json!({
                                    "task": t.task,
                                    "read_only": t.kind != TaskKind::Remediation,
                                    "description": cap(t.description, 120),
                                }),
                            )
                        })
                    })
                    .collect();
                hits.sort_by(|a, b| b.0.cmp(&a.0));
                Ok(
                    json!({"tasks": hits.into_iter().take(MAX_ITEMS).map(|(_, v)| v).collect::<Vec<_>>()}),
                )
            }
            "list_issues" => {
                let list = s
                    .issues(&IssueQuery {
                        all: false,
                        resource,
                        limit: Some(MAX_ITEMS as i64),
                    })
                    .await
                    .map_err(err)?;
                let issues: Vec<Value> = list
                    .iter()
                    .map(|i| {
                        json!({
                            "resource": i.resource,
                            "task": i.task,
                            "severity": i.severity,
                            "title": i.title,
                            "details": cap(i.details.clone(), 200),
                            "last_seen": i.last_seen,
                        })
                    })
                    .collect();
                Ok(json!({ "issues": issues }))
            }
            "list_insights" => {
                let list = s.insights(resource.as_deref()).await.map_err(err)?;
                let insights: Vec<Value> = list
                    .into_iter()
                    .take(MAX_ITEMS)
                    .map(|i| json!({"resource": i.resource, "task": i.task, "text": cap(i.text, 200), "at": i.at}))
                    .collect();
                Ok(json!({ "insights": insights }))
            }
            "search_knowledge" => {
                let query = text_arg(call, "query").ok_or("give a query")?;
                let hits = s.knowledge_search(&query, 5).await.map_err(err)?;
                let hits: Vec<Value> = hits
                    .into_iter()
                    .map(|h| json!({"title": h.title, "section": h.section, "snippet": cap(h.snippet, 400)}))
                    .collect();
                Ok(json!({ "hits": hits }))
            }
            "map_around" => {
                let around = resource.ok_or("give a resource")?;
                let map = s
                    .map(&MapQuery {
                        around: Some(around.clone()),
                        include_stale: false,
                    })
                    .await
                    .map_err(err)?;
                let names: BTreeMap<&str, &str> = map
                    .resources
                    .iter()
                    .map(|r| (r.key.as_str(), r.name.as_str()))
                    .collect();
                let name = |k: &str| names.get(k).copied().unwrap_or(k).to_string();
                let edges: Vec<String> = map
                    .edges
                    .iter()
                    .take(MAX_ITEMS * 3)
                    .map(|e| format!("{} {} {}", name(&e.from), e.kind, name(&e.to)))
                    .collect();
                let resources: Vec<Value> = map
                    .resources
                    .iter()
                    .take(MAX_ITEMS * 2)
                    .map(|r| json!({"name": r.name, "kind": r.kind}))
                    .collect();
                Ok(json!({"around": around, "resources": resources, "edges": edges}))
            }
            other => Err(format!("{other} is not a read tool")),
        }
    }

    /// A read call's answer as the tool message's text: capped, fenced, redacted.
    pub(super) fn look_answer(&self, result: &std::result::Result<Value, String>) -> String {
        let text = match result {
            Ok(v) => self.fenced(&v.to_string(), ANSWER_CAP),
            Err(why) => format!("error: {why}"),
        };
        self.redactor.redact(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_scores_by_the_words_it_holds() {
        let words = vec!["redis".to_string(), "memory".to_string()];
        assert_eq!(task_score(&words, "core/redis/memory", "used memory"), 4);
        assert_eq!(task_score(&words, "core/redis/info", "used memory"), 3);
        assert_eq!(task_score(&words, "core/postgres/locks", "who waits"), 0);
        assert!(is_read("map_around") && !is_read("conclude"));
    }
}
