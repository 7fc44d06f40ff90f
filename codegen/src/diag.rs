//! Spec errors: collected from every stage, positioned, and reported together.
//!
//! Takes: problems as they are found, each at a path inside a file ([`Problems::at`]) or at a
//! position the YAML reader already knows ([`Problems::at_position`]).
//! Gives: [`Diagnostic`]s, positioned lazily against each file's text once every stage ran, sorted.

use std::fmt;

use crate::model::{Origin, Spec};
use crate::yaml::{self, At, Path};

/// One mistake in the spec, shown as `spec/<file>:<line>:<col>: <path>: <message>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub path: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

enum Where {
    Path {
        file: usize,
        path: Path,
        at: At,
    },
    Position {
        file: String,
        line: usize,
        column: usize,
        path: String,
    },
}

/// Problems found so far; positions are resolved at the end, against each file's text.
#[derive(Default)]
pub struct Problems {
    items: Vec<(Where, String)>,
}

impl Problems {
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn at_path(&mut self, file: usize, path: Path, at: At, message: String) {
        self.items.push((Where::Path { file, path, at }, message));
    }

    /// A problem with the thing defined at `origin`.
    pub fn at(&mut self, origin: &Origin, at: At, message: String) {
        self.at_path(origin.file, origin.path.clone(), at, message);
    }

    /// A problem with the key `key` of the thing defined at `origin`.
    pub fn at_key(&mut self, origin: &Origin, key: &str, at: At, message: String) {
        self.at_path(origin.file, origin.path.key(key), at, message);
    }

    pub fn at_position(
        &mut self,
        file: &str,
        line: usize,
        column: usize,
        path: &str,
        message: &str,
    ) {
        self.items.push((
            Where::Position {
                file: file.to_owned(),
                line,
                column,
                path: path.to_owned(),
            },
            message.to_owned(),
        ));
    }

    /// Positions every problem and sorts them by file and position.
    pub fn resolve(self, spec: &Spec) -> Vec<Diagnostic> {
        let mut out: Vec<Diagnostic> = self
            .items
            .into_iter()
            .map(|(place, message)| match place {
                Where::Path { file, path, at } => {
                    let f = &spec.files[file];
                    let (line, column) = yaml::locate(&f.text, &path, at);
                    Diagnostic {
                        file: f.display.clone(),
                        line,
                        column,
                        path: path.to_string(),
                        message,
                    }
                }
                Where::Position {
                    file,
                    line,
                    column,
                    path,
                } => Diagnostic {
                    file,
                    line,
                    column,
                    path,
                    message,
                },
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }
}
