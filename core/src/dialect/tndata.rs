//! The `tndata` dialect (placeholder: being written).
