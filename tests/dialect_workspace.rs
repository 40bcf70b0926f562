//! The `workspace` dialect's translation, natively (being written).
