//! Command-line interface. Every flag can also come from the `CONFAB_*` environment variable named
//! in its help; flags win over the environment, the environment over the defaults.

use crate::{keys, server, store};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::process::ExitCode;

/// Confab: a conversations server speaking the Linktor, Airy Core, Protocol and G-Tateth APIs.
#[derive(Parser, Debug)]
#[command(name = "confab", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Log format: `pretty` for people, `json` for log collectors.
    #[arg(long, env = "CONFAB_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty, global = true)]
    pub log_format: LogFormat,
}

/// How logs are written (to stderr).
#[derive(Copy, Clone, Debug, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// The database every command works on.
#[derive(Args, Debug, Clone)]
pub struct Database {
    /// Where the data lives: `sqlite://confab.db` (created if missing) or `postgres://user@host/db`.
    /// Pending migrations are applied first.
    #[arg(long, env = "CONFAB_DATABASE_URL", default_value = "sqlite://confab.db", hide_env_values = true)]
    pub database_url: String,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server until SIGINT or SIGTERM (requests in flight finish first).
    Serve {
        /// The address to listen on.
        #[arg(long, env = "CONFAB_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// The secret that signs the Protocol face's attachment download URLs (`file_url`, valid one
        /// hour). Without it a random one is drawn at start: URLs then stop working at a restart and
        /// are not valid on other nodes, so set it when running several nodes.
        #[arg(long, env = "CONFAB_URL_SIGNING_KEY", hide_env_values = true)]
        url_signing_key: Option<String>,
        /// Accept webhook receivers that are not https or not public (loopback, private
        /// addresses): for development and tests only.
        #[arg(long, env = "CONFAB_ALLOW_INSECURE_WEBHOOKS")]
        allow_insecure_webhooks: bool,
        /// The waits between webhook delivery attempts, e.g. `1m,5m,30m,2h` (units ms, s, m, h;
        /// the last one repeats while the subscription's `maxRetries` allows).
        #[arg(long, env = "CONFAB_WEBHOOK_RETRY_SCHEDULE", default_value = confab_events::webhooks::DEFAULT_SCHEDULE,
              value_parser = confab_events::webhooks::parse_schedule)]
        webhook_retry_schedule: RetrySchedule,
        #[command(flatten)]
        db: Database,
    },
    /// Apply pending database migrations and exit.
    Migrate {
        #[command(flatten)]
        db: Database,
    },
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create an API key, creating its tenant and user if missing. The key is printed once, alone,
    /// as the last line of stdout; only its hash is stored.
    Create {
        /// The tenant (organisation) slug: letters, digits, '-' or '_'.
        #[arg(long)]
        tenant: String,
        /// The user the key acts as (created as an admin of the tenant if missing).
        #[arg(long)]
        user: String,
        /// The user's email, when the user is created.
        #[arg(long)]
        email: Option<String>,
        /// Comma-separated scopes: `admin`, or `RESOURCE:read`/`RESOURCE:write` (also spelled
        /// `read:RESOURCE`) for conversations, contacts, channels, bots, messages, webhooks.
        #[arg(long)]
        scopes: String,
        #[command(flatten)]
        db: Database,
    },
    /// List every key: id, prefix, tenant, user, scopes, creation time, state.
    List {
        #[command(flatten)]
        db: Database,
    },
    /// Revoke a key by id (see `confab keys list`).
    Revoke {
        /// The key's id.
        id: String,
        #[command(flatten)]
        db: Database,
    },
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CONFAB_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Pretty => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Parses the command line and runs the command.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    init_logs(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The parsed `--webhook-retry-schedule` (a type alias keeps clap from reading it as a list).
type RetrySchedule = Vec<std::time::Duration>;

async fn execute(command: Command) -> Result<(), String> {
    match command {
        Command::Serve { listen, url_signing_key, allow_insecure_webhooks, webhook_retry_schedule, db } => {
            let opened = store::open(&db.database_url).await.map_err(|e| e.to_string())?;
            let listener =
                tokio::net::TcpListener::bind(listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
            let running = server::start_with_options(
                listener,
                opened.store.clone(),
                server::Options {
                    url_signing_key,
                    webhooks: confab_events::webhooks::WebhookConfig {
                        retry_schedule: webhook_retry_schedule,
                        allow_insecure: allow_insecure_webhooks,
                    },
                },
            )
            .map_err(|e| e.to_string())?;
            tracing::info!(address = %running.addr, database = %store::redact(&db.database_url), "confab listening on http://{}", running.addr);
            let stopper = running.stopper();
            tokio::spawn(async move {
                server::signal().await;
                tracing::info!("shutting down: finishing requests in flight");
                let _ = stopper.send(true);
            });
            running.wait().await;
            opened.close().await;
            tracing::info!("stopped");
            Ok(())
        }
        Command::Migrate { db } => {
            let opened = store::open(&db.database_url).await.map_err(|e| e.to_string())?;
            opened.close().await;
            println!("migrations applied to {}", store::redact(&db.database_url));
            Ok(())
        }
        Command::Keys { command } => match command {
            KeysCommand::Create { tenant, user, email, scopes, db } => {
                let opened = store::open(&db.database_url).await.map_err(|e| e.to_string())?;
                let result = keys::create(&opened.store, &tenant, &user, email, &scopes).await;
                opened.close().await;
                let (line, key) = result?;
                println!("{line}");
                println!("{key}");
                Ok(())
            }
            KeysCommand::List { db } => {
                let opened = store::open(&db.database_url).await.map_err(|e| e.to_string())?;
                let result = keys::list(&opened.store).await;
                opened.close().await;
                for line in result? {
                    println!("{line}");
                }
                Ok(())
            }
            KeysCommand::Revoke { id, db } => {
                let opened = store::open(&db.database_url).await.map_err(|e| e.to_string())?;
                let result = keys::revoke(&opened.store, &id).await;
                opened.close().await;
                println!("{}", result?);
                Ok(())
            }
        },
    }
}
