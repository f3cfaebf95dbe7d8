//! The faces: one module per platform whose API Confab speaks. A face parses, authenticates, maps
//! onto store operations and renders; it holds no rule of its own.
//!
//! | face | mounted at | module |
//! |---|---|---|
//! | Linktor | `/v1` | [`linktor`] |
//! | Airy Core | `/` (`/conversations.info`, …) | [`airy`] |
//! | G-Tateth helpdesk | `/api/v1` | [`gtateth`] |
//! | Protocol | `/protocol/v1` | [`protocol`] |

pub mod airy;
pub mod event_follow;
pub mod gtateth;
pub mod linktor;
pub mod params;
pub mod protocol;
pub mod webhooks;
