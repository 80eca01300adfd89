//! sitrep-runwhen against the five unmodified RunWhen codebundles in
//! `/work/shared/data/runwhen` (never copied into the repository), and against malformed input.

mod bundles;
mod generate;
mod harness;
mod malformed;
mod props;
