//! Changes in a conclusion: a confirmed change explains what is found on and through its
//! resource, unless what was found is a failure whose culprit is the changed resource itself
//! (then the failure is the root, and the change is how its culprit came to misbehave).

use super::confidence::{Dependencies, best, confirmed_ancestors, is_ancestor};
use super::text::fill;
use super::{Hypothesis, Session, Strength};

/// The confirmed change among `changes` that explains `h` (not itself a change): `h` is on
/// the changed resource, was reached by following the Map through it (a confirmed ancestor
/// is on it), led to it (an ancestor of the change), or is on a resource that depends on it.
pub(super) fn explained_by_change<'a>(
    s: &Session,
    h: &Hypothesis,
    changes: &[&'a Hypothesis],
    deps: &Dependencies,
) -> Option<&'a Hypothesis> {
    changes.iter().copied().find(|c| {
        c.id != h.id
            && !h.change
            && (c.resource == h.resource
                || is_ancestor(s, &h.id, c)
                || deps.depends(&h.resource, &c.resource)
                || confirmed_ancestors(s, h)
                    .iter()
                    .any(|a| a.resource == c.resource))
    })
}

/// The culprit `h`'s evidence names, from its bundle's `culprit` template and the facts of its
/// best evidence.
pub(super) fn culprit_of(s: &Session, h: &Hypothesis) -> Option<String> {
    let template = h.remedy.culprit.as_deref()?;
    let evidence = best(s, &h.id, Strength::Strong).or_else(|| best(s, &h.id, Strength::Weak))?;
    fill(template, &evidence.facts)
}

/// The confirmed change among `changes` that explains `h` (a finding on another resource)
/// and is on the resource `h`'s culprit names: an application that changed and then held a
/// dependency's connections, locks or memory. `h` is then the failure, and the change the
/// reason its culprit misbehaves.
pub(super) fn culprit_change<'a>(
    s: &Session,
    h: &Hypothesis,
    changes: &[&'a Hypothesis],
    deps: &Dependencies,
) -> Option<&'a Hypothesis> {
    if h.change {
        return None;
    }
    let culprit = culprit_of(s, h)?;
    changes.iter().copied().find(|c| {
        c.resource != h.resource
            && names(&culprit, &c.resource)
            && explained_by_change(s, h, &[c], deps).is_some()
    })
}

/// Whether a culprit's text (`batch (user shop_app)`, `report-render (pid 42)`) names a
/// resource: its leading name is the resource's name or one of the words the name is made
/// of (`shop-batch` is named by `batch`).
fn names(culprit: &str, resource: &str) -> bool {
    let lead = culprit
        .split(|c: char| c.is_whitespace() || c == '(')
        .find(|w| !w.is_empty())
        .unwrap_or_default()
        .to_lowercase();
    if lead.len() < 3 {
        return false;
    }
    let resource = resource.to_lowercase();
    resource == lead
        || resource
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| w == lead)
}

#[cfg(test)]
mod tests {
    use super::names;

    #[test]
    fn a_culprit_names_a_resource_by_its_name_or_a_word_of_it() {
        assert!(names("batch (user shop_app)", "shopfront-batch"));
        assert!(names("Batch", "batch"));
        assert!(names("report-render (pid 42)", "report-render"));
        assert!(!names("batch (user shop_app)", "batcher"));
        assert!(!names("127.0.0.1:5432", "postgres-5432"));
        assert!(!names("db (user x)", "db-1"), "too short to tell");
        assert!(!names("", "shopfront-batch"));
    }
}
