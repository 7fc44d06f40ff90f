//! Serde helpers used by the generated code (not part of the stable API).
