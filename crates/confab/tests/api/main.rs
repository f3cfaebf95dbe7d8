//! The API test suite: every test starts the real server on a random loopback port, with a fresh
//! database (a SQLite file in a temporary folder, or, when `CONFAB_TEST_POSTGRES` holds a URL, a new
//! PostgreSQL database created from it), and talks to it over HTTP.

mod support;

mod airy;
mod airy_list;
mod airy_messages;
mod airy_webhooks;
mod airy_ws;
mod auth;
mod channels;
mod cli;
mod contacts;
mod conversation_actions;
mod conversations;
mod durability;
mod events;
mod gtateth;
mod gtateth_webhooks;
mod idempotency;
mod inbound;
mod messages;
mod nodes;
mod openapi;
mod process;
mod protocol;
mod protocol_webhooks;
mod search;
mod stream;
mod users_bots_tags;
mod webhooks;
