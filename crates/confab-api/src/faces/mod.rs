//! The faces: one module per platform whose API Confab speaks. A face parses, authenticates, maps
//! onto store operations and renders; it holds no rule of its own.
//!
//! | face | mounted at | module |
//! |---|---|---|
//! | Linktor | `/v1` | [`linktor`] |
//! | Airy Core | `/` (`/conversations.info`, …) | [`airy`] |

pub mod airy;
pub mod linktor;
pub mod params;
