//! A Robot Framework reader sufficient for RunWhen codebundles: the settings, variables, tasks
//! (or test cases) and keywords of a suite file, every item with its line. It reads syntax
//! only: nothing is unescaped, resolved or run.

mod lex;
mod model;
mod parse;

pub use model::*;
pub use parse::parse;

/// Robot Framework's name matching: case, spaces and underscores do not count.
pub fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}
