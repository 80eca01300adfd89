//! The LLM reasoner: a model proposes through tools that map one to one onto [`Proposal`]s, and
//! the engine decides. Every tool call is checked against what the session offers (listed
//! candidates, their read-only tests, formed and confirmed hypotheses); anything else is
//! refused and recorded, never executed. What tasks and monitored systems wrote reaches the
//! model fenced as data and capped, and every message is redacted of the workspace's secrets
//! before it is sent. When the provider fails (after its retries) or the session's model
//! budget is used, the offline reasoner finishes the session. Every call, refusal and fallback
//! is a note in the session's audit (`docs/llm.md`).

use super::context::{Candidate, Context};
use super::reasoner::{Offline, Proposal, Reasoner, ReasonerNote, ReasonerView};
use super::settings::ModelSettings;
use crate::{Result, Sitrep};
use async_trait::async_trait;
use futures_util::future::join_all;
use serde::Serialize;
use serde_json::{Value, json};
use sitrep_core::investigation::{HypothesisStatus, Source};
use sitrep_core::redact::Redactor;
use sitrep_llm::{ChatRequest, ChatResponse, Message, Provider, ToolCall};
use sitrep_store::SecretStore;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

mod look;
mod prompt;
mod propose;

/// Answers of read calls the model gets in one round before it must propose.
const READ_TURNS: usize = 3;

use prompt::candidate_id;

/// What one session may spend on the model.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ModelBudget {
    pub calls: u32,
    pub tokens: u64,
    /// In the configured prices' currency.
    pub cost: Option<f64>,
}

pub(crate) struct LlmReasoner {
    /// The engine the read tools ask.
    sitrep: Sitrep,
    provider: Box<dyn Provider>,
    redactor: Redactor,
    budget: ModelBudget,
    /// A random word in the data fences: text a task wrote cannot close one it cannot see.
    fence: String,
    offline: Offline,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    calls: u32,
    tokens: u64,
    cost: f64,
    fell_back: Option<String>,
    notes: Vec<ReasonerNote>,
    /// The refused tool calls of the last answer, told to the model in the next prompt.
    refused: Vec<Refusal>,
}

/// A tool call the engine would not carry out, and why.
#[derive(Debug, Clone, Serialize)]
struct Refusal {
    tool: String,
    arguments: Value,
    why: String,
}

fn arg<'a>(call: &'a ToolCall, key: &str) -> Option<&'a str> {
    call.arguments.get(key).and_then(Value::as_str)
}

/// Proposals in the order the driver should apply them: forming before testing, concluding last.
fn order(p: &Proposal) -> u8 {
    match p {
        Proposal::Form { .. } | Proposal::Attach { .. } => 0,
        Proposal::Test(_) | Proposal::TestUntested => 1,
        Proposal::Conclude => 2,
    }
}

impl LlmReasoner {
    pub fn new(
        sitrep: Sitrep,
        provider: Box<dyn Provider>,
        redactor: Redactor,
        budget: ModelBudget,
    ) -> Self {
        LlmReasoner {
            sitrep,
            provider,
            redactor,
            budget,
            fence: uuid::Uuid::new_v4().simple().to_string()[..12].to_string(),
            offline: Offline::default(),
            state: Mutex::new(State::default()),
        }
    }

    /// Why the offline reasoner took over, if it did.
    pub fn fell_back(&self) -> Option<String> {
        self.lock().fell_back.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn note(&self, data: Value, summary: String) {
        self.lock().notes.push(ReasonerNote { data, summary });
    }

    fn fall_back(&self, why: String) {
        tracing::warn!(reason = %why, "llm reasoner: the offline reasoner continues the session");
        self.note(
            json!({"reasoner": "llm", "fallback": "offline", "why": why}),
            format!("{why}; the offline reasoner continues the session"),
        );
        self.lock().fell_back = Some(why);
    }

    /// One tool call as a proposal, or why the engine refuses it.
    fn check(
        v: &ReasonerView<'_>,
        candidates: &[Candidate],
        call: &ToolCall,
    ) -> std::result::Result<Proposal, String> {
        let s = v.session;
        let confirmed = |id: &str| {
            s.hypothesis(id)
                .is_some_and(|h| h.status == HypothesisStatus::Confirmed)
        };
        // The parent a new hypothesis is formed under: a confirmed one, or none.
        let parent = || match arg(call, "parent") {
            Some(p) if !confirmed(p) => Err(format!("parent {p:?} is not a confirmed hypothesis")),
            p => Ok(p.map(str::to_string)),
        };
        match call.name.as_str() {
            "form_hypothesis" => {
                let id = arg(call, "candidate").unwrap_or_default();
                let task = arg(call, "task");
                // What the task is comes first: naming a remediation is refused as that.
                if let Some(task) = task {
                    propose::read_only(v.context, task)?;
                }
                let mut c = candidates
                    .iter()
                    .find(|c| candidate_id(c) == id)
                    .cloned()
                    .ok_or_else(|| format!("no candidate {id:?} is listed"))?;
                let parent = parent()?;
                if let Some(task) = task {
                    if !c.tests.iter().any(|t| t.task == task) {
                        return Err(format!("{task} is not one of {id}'s tests"));
                    }
                    c.tests.retain(|t| t.task == task);
                }
                Ok(Proposal::Form {
                    candidate: c,
                    parent,
                })
            }
            "propose_hypothesis" => {
                let c = propose::own_hypothesis(v.context, call)?;
                if s.hypotheses
                    .iter()
                    .any(|h| h.resource == c.resource && h.category == c.category)
                {
                    return Err(format!(
                        "{} on {} is formed already",
                        c.statement, c.resource
                    ));
                }
                let parent = parent()?;
                Ok(Proposal::Form {
                    candidate: c,
                    parent,
                })
            }
            "attach_hypothesis" => {
                let (h, p) = (
                    arg(call, "hypothesis").unwrap_or_default(),
                    arg(call, "parent").unwrap_or_default(),
                );
                match s.hypothesis(h) {
                    Some(x) if x.parent.is_none() && h != p && confirmed(p) => {
                        Ok(Proposal::Attach {
                            hypothesis: h.into(),
                            parent: p.into(),
                        })
                    }
                    _ => Err(format!(
                        "{h:?} must be a formed top-level hypothesis and {p:?} another, confirmed one"
                    )),
                }
            }
            "test_hypotheses" => {
                let ids: Vec<String> = call
                    .arguments
                    .get("hypotheses")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                let bad: Vec<&String> = ids
                    .iter()
                    .filter(|id| {
                        v.tested.contains(*id)
                            || s.hypothesis(id)
                                .is_none_or(|h| h.status != HypothesisStatus::Active)
                    })
                    .collect();
                if ids.is_empty() || !bad.is_empty() {
                    return Err(format!(
                        "only formed, active, untested hypotheses can be tested (not {bad:?})"
                    ));
                }
                Ok(Proposal::Test(ids))
            }
            "test_untested" => Ok(Proposal::TestUntested),
            "conclude" => Ok(Proposal::Conclude),
            other => Err(format!(
                "there is no tool {other:?}: the tools are form_hypothesis, propose_hypothesis, attach_hypothesis, test_hypotheses, test_untested and conclude"
            )),
        }
    }

    /// One proposing tool call as a proposal, or why it is refused (recorded and remembered).
    fn take(
        &self,
        v: &ReasonerView<'_>,
        candidates: &[Candidate],
        call: &ToolCall,
    ) -> std::result::Result<Proposal, String> {
        match Self::check(v, candidates, call) {
            Ok(mut p) => {
                // The model's own words are kept: never with a secret in them.
                if let Proposal::Form { candidate, .. } = &mut p
                    && let Source::Reasoner { note } = &mut candidate.source
                {
                    self.redactor.redact_in_place(&mut candidate.statement);
                    self.redactor.redact_in_place(note);
                }
                Ok(p)
            }
            Err(why) => {
                let mut arguments = call.arguments.clone();
                self.redactor.redact_json(&mut arguments);
                let refusal = Refusal {
                    tool: call.name.clone(),
                    arguments,
                    why: why.clone(),
                };
                tracing::warn!(session = %v.session.id, tool = %refusal.tool, "llm reasoner: tool call refused");
                self.note(
                    json!({"reasoner": "llm", "refused": refusal}),
                    format!("refused the model's {}: {}", refusal.tool, refusal.why),
                );
                self.lock().refused.push(refusal);
                Err(why)
            }
        }
    }

    /// One model call, counted and recorded; `None` when it failed (the offline reasoner then
    /// takes over).
    async fn call(&self, v: &ReasonerView<'_>, request: &ChatRequest) -> Option<ChatResponse> {
        let messages = serde_json::to_value(&request.messages).unwrap_or_default();
        let answer = match self.provider.complete(request).await {
            Ok(answer) => answer,
            Err(e) => {
                let error = self.redactor.redact(&e.to_string());
                self.note(
                    json!({"reasoner": "llm", "model_call": {"round": v.round, "messages": messages, "error": error}}),
                    format!("the model call failed: {error}"),
                );
                self.fall_back(format!("the model failed: {error}"));
                return None;
            }
        };
        let mut answer_json = serde_json::to_value(&answer).unwrap_or_default();
        self.redactor.redact_json(&mut answer_json);
        let n = {
            let mut st = self.lock();
            st.calls += 1;
            st.tokens += answer.usage.total();
            st.cost += answer.cost.unwrap_or(0.0);
            st.calls
        };
        tracing::info!(
            session = %v.session.id,
            round = v.round,
            tokens = answer.usage.total(),
            latency_ms = answer.latency.as_millis() as u64,
            tool_calls = answer.tool_calls.len(),
            "llm reasoner: model call"
        );
        self.note(
            json!({"reasoner": "llm", "model_call": {"round": v.round, "messages": messages, "answer": answer_json}}),
            format!(
                "model call {n}: {} tool call(s), {} tokens, {} ms",
                answer.tool_calls.len(),
                answer.usage.total(),
                answer.latency.as_millis()
            ),
        );
        Some(answer)
    }

    /// One round's conversation: the model reads (answered at once, side by side) until it
    /// proposes, or its read turns or budget run out. `None` when the model failed.
    async fn converse(
        &self,
        v: &ReasonerView<'_>,
        candidates: &[Candidate],
    ) -> Option<Vec<Proposal>> {
        let mut request = self.request(v, candidates);
        let mut proposals = vec![];
        for turn in 0..=READ_TURNS {
            if turn > 0
                && let Some(why) = self.spent()
            {
                self.note(
                    json!({"reasoner": "llm", "reads_unanswered": why}),
                    format!("the model's reads go unanswered: {why}"),
                );
                break;
            }
            let answer = self.call(v, &request).await?;
            let (reads, acts): (Vec<&ToolCall>, Vec<&ToolCall>) = answer
                .tool_calls
                .iter()
                .partition(|c| look::is_read(&c.name));
            let mut replies: BTreeMap<&str, String> = BTreeMap::new();
            for call in acts {
                let reply = match self.take(v, candidates, call) {
                    Ok(p) => {
                        proposals.push(p);
                        "accepted: the engine carries it out when you stop reading".to_string()
                    }
                    Err(why) => format!("refused: {why}"),
                };
                replies.insert(call.id.as_str(), reply);
            }
            if reads.is_empty() {
                break;
            }
            if turn == READ_TURNS {
                self.note(
                    json!({"reasoner": "llm", "reads_unanswered": format!("more than {READ_TURNS} read turns")}),
                    format!("the model read for more than {READ_TURNS} turns; it proposes from what it has"),
                );
                break;
            }
            // Reads change nothing: one answer's run side by side.
            let results = join_all(reads.iter().map(|c| self.look(c))).await;
            for (call, result) in reads.iter().zip(&results) {
                let mut arguments = call.arguments.clone();
                self.redactor.redact_json(&mut arguments);
                let outcome = match result {
                    Ok(_) => "answered".to_string(),
                    Err(why) => format!("failed: {}", self.redactor.redact(why)),
                };
                self.note(
                    json!({"reasoner": "llm", "read": {"tool": call.name, "arguments": arguments, "outcome": outcome}}),
                    format!("the model read {} ({outcome})", call.name),
                );
                replies.insert(call.id.as_str(), self.look_answer(result));
            }
            // What the model said goes back as sent the next time: redacted like the rest.
            let mut said = answer.message();
            if let Message::Assistant {
                content,
                tool_calls,
            } = &mut said
            {
                self.redactor.redact_in_place(content);
                for c in tool_calls {
                    self.redactor.redact_json(&mut c.arguments);
                }
            }
            request.messages.push(said);
            for call in &answer.tool_calls {
                let content = replies.remove(call.id.as_str()).unwrap_or_default();
                request
                    .messages
                    .push(Message::tool_result(&call.id, content));
            }
        }
        proposals.sort_by_key(order);
        Some(proposals)
    }

    /// Why the session may not call the model again, if it may not.
    fn spent(&self) -> Option<String> {
        let st = self.lock();
        if st.calls >= self.budget.calls {
            Some(format!(
                "the model-call budget of {} is used",
                self.budget.calls
            ))
        } else if st.tokens >= self.budget.tokens {
            Some(format!(
                "the token budget of {} is used",
                self.budget.tokens
            ))
        } else {
            self.budget.cost.filter(|b| st.cost >= *b).map(|budget| {
                format!(
                    "the cost budget of {budget} is used (an estimated {:.4} spent)",
                    st.cost
                )
            })
        }
    }
}

#[async_trait]
impl Reasoner for LlmReasoner {
    fn name(&self) -> &str {
        "llm"
    }

    async fn next(&self, v: &ReasonerView<'_>) -> Result<Vec<Proposal>> {
        let fell_back = self.lock().fell_back.is_some();
        if !fell_back && let Some(why) = self.spent() {
            self.fall_back(why);
        }
        if fell_back || self.fell_back().is_some() {
            return self.offline.next(v).await;
        }
        let candidates = Self::candidates(v);
        // An answer whose every call was refused is asked again once, with the refusals.
        for attempt in 0..2 {
            if attempt > 0
                && let Some(why) = self.spent()
            {
                self.fall_back(why);
                return self.offline.next(v).await;
            }
            let Some(proposals) = self.converse(v, &candidates).await else {
                return self.offline.next(v).await;
            };
            if !proposals.is_empty() || self.lock().refused.is_empty() {
                return Ok(proposals);
            }
        }
        Ok(vec![])
    }

    fn take_notes(&self) -> Vec<ReasonerNote> {
        std::mem::take(&mut self.lock().notes)
    }
}

impl Sitrep {
    /// The LLM reasoner of one session, or why it cannot start (a missing key, secrets that
    /// cannot be read for redaction, a provider that cannot be built).
    pub(super) async fn llm_reasoner(
        &self,
        m: &ModelSettings,
        ctx: &Context,
    ) -> std::result::Result<LlmReasoner, String> {
        let key_name = m.api_key_secret()?;
        let named = self.settings().secrets.clone();
        // Every value a message could carry: the workspace's vault, the settings' secrets and
        // those of the SLXs the session may use.
        let store = self.store().await.map_err(|e| e.to_string())?;
        let all: BTreeSet<String> = store
            .list_secrets(self.workspace())
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|r| r.name)
            .collect();
        let stored = self
            .vault_values(&all)
            .await
            .map_err(|e| format!("cannot read the vault to redact its values: {e}"))?;
        let (named_refs, stored_c) = (named.clone(), stored.clone());
        let resolved_named = tokio::task::spawn_blocking(move || {
            named_refs
                .iter()
                .filter_map(|(n, r)| {
                    sitrep_runner::secrets::resolve_all(
                        &BTreeMap::from([(n.clone(), r.clone())]),
                        &named_refs,
                        &stored_c,
                    )
                    .ok()
                })
                .flatten()
                .collect::<BTreeMap<String, String>>()
        })
        .await
        .map_err(|e| format!("resolving secrets crashed: {e}"))?;
        // The settings' entry wins over the vault's, as for tasks.
        let api_key = match key_name {
            None => None,
            Some(name) => Some(
                resolved_named
                    .get(name)
                    .or_else(|| stored.get(name))
                    .cloned()
                    .ok_or_else(|| {
                        format!("model.api_key: no workspace secret {name:?} (set it with `sitrep secret set {name}`)")
                    })?,
            ),
        };
        let mut values: Vec<(String, String)> = stored.into_iter().collect();
        values.extend(resolved_named.clone());
        for slx in &ctx.slxs {
            // An SLX whose secrets cannot be resolved cannot run, so it has nothing to leak.
            if let Ok(s) = self.slx_secrets(slx).await {
                values.extend(s);
            }
        }
        if let Some(key) = &api_key {
            values.push(("api_key".into(), key.clone()));
        }
        let redactor = Redactor::new(values.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let config = m
            .provider_config(api_key.map(sitrep_llm::ApiKey::new))
            .map_err(|(k, why)| format!("model.{k}: {why}"))?;
        let provider = sitrep_llm::connect(config).map_err(|e| e.to_string())?;
        Ok(LlmReasoner::new(
            self.clone(),
            provider,
            redactor,
            ModelBudget {
                calls: m.max_calls,
                tokens: m.token_budget,
                cost: m.cost_budget,
            },
        ))
    }
}
