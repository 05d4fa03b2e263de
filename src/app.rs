//! Wiring: load and cross-check the rules, open the store, start the
//! dispatcher, the outbox worker and the HTTP server, replay turns a crash
//! interrupted, and stop it all cleanly.

use crate::channels::telegram::config::TelegramMode;
use crate::channels::{email, telegram, web::WebChannel};
use crate::config::{Config, FirstAdmin};
use crate::core::agents::LoginThrottle;
use crate::core::channel::{Channel, Channels};
use crate::core::conversations::Conversations;
use crate::core::dispatcher::{AutoReplyCap, Dispatcher, Rules};
use crate::core::events::Events;
use crate::core::inbox::Inbox;
use crate::core::leader::run_as_leader;
use crate::core::live::LiveUpdates;
use crate::core::shutdown::{Shutdown, Stop};
use crate::http::state::App;
use crate::rules::intents::{Action, IntentError, IntentSet};

use crate::core::outbox::Outbox;
use crate::rules::templates::{TemplateError, Templates};
use crate::store::postgres::PgStore;
use crate::store::sled::SledStore;
use crate::store::{NewConversation, Store, StoreConfig, StoreError};
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Templates the gateway itself needs, besides those intents name.
pub const REQUIRED_TEMPLATES: &[&str] = &[
    "handoff",
    "handoff_closed",
    "receipt",
    "clarify",
    "survey_csat",
    "survey_nps",
    "survey_ces",
    "survey_thanks",
    "survey_comment_thanks",
];

/// Dispatcher workers; turns of one conversation always go to the same one.
const DISPATCH_WORKERS: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error(transparent)]
    Intents(#[from] IntentError),
    #[error(transparent)]
    Templates(#[from] TemplateError),
    #[error(
        "{file}: intent `{intent}` answers with template `{template}`, which does not exist in templates/{locale}/"
    )]
    MissingIntentTemplate {
        file: String,
        intent: String,
        template: String,
        locale: String,
    },
    #[error("the required template `{template}` does not exist in templates/{locale}/")]
    MissingRequiredTemplate { template: String, locale: String },
}

/// Loads intents and templates and checks they fit together.
pub fn load_rules(config: &Config) -> Result<(IntentSet, Templates), RulesError> {
    let intents = IntentSet::load(config.intents.dir.as_deref())?;
    let templates = Templates::load(
        config.templates.dir.as_deref(),
        &config.locale.default,
        config.vars.clone(),
    )?;
    // A template that cannot render would leave a customer unanswered:
    // refuse to start instead.
    templates.check_all()?;
    let locale = templates.default_locale().to_string();
    for template in REQUIRED_TEMPLATES {
        if !templates.exists(template) {
            return Err(RulesError::MissingRequiredTemplate {
                template: template.to_string(),
                locale,
            });
        }
    }
    for intent in intents.intents() {
        if let (Action::Answer, Some(template)) = (&intent.action, &intent.template)
            && !templates.exists(template)
        {
            return Err(RulesError::MissingIntentTemplate {
                file: intent.file.clone(),
                intent: intent.name.clone(),
                template: template.clone(),
                locale,
            });
        }
    }
    Ok((intents, templates))
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Rules(#[from] RulesError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot create the data folder {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("Telegram: {0}")]
    Telegram(#[source] url::ParseError),
    #[error("email: {0}")]
    Email(#[source] crate::channels::email::smtp::SmtpSetupError),
    #[error("business hours: {0}")]
    Hours(#[source] crate::service_levels::hours::HoursError),
    #[error("teams: {0}")]
    Teams(#[source] crate::service_levels::teams::TeamsError),
    #[error("cannot create the first admin (FRONTDESK_ADMIN_USER, FRONTDESK_ADMIN_PASSWORD): {0}")]
    FirstAdmin(String),
    #[error("cannot open the control socket in {path}: {source}")]
    Control {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A running gateway.
pub struct Gateway {
    pub addr: SocketAddr,
    stop: Stop,
    server: JoinHandle<std::io::Result<()>>,
    outbox: JoinHandle<()>,
    /// Background loops (Telegram polling, the mailbox, the SLA watcher),
    /// ended by the stop signal.
    background_tasks: Vec<JoinHandle<()>>,
    /// The bot whose webhook we registered, to remove it at stop.
    webhook_bot: Option<teloxide::Bot>,
    /// The control socket in the sled folder (`frontdesk agent`, `backup`).
    control: Option<crate::control::server::ControlSocket>,
    store: Arc<dyn Store>,
}

/// Opens the store `[store]` names: the sled folder `[server] data_dir`
/// (created if missing; sled locks it for one process), or the PostgreSQL
/// database, migrated to this build's schema, which other instances may
/// share.
async fn open_store(config: &Config) -> Result<Arc<dyn Store>, StartError> {
    match &config.store {
        StoreConfig::Sled(_) => {
            let data_dir = &config.server.data_dir;
            std::fs::create_dir_all(data_dir).map_err(|source| StartError::DataDir {
                path: data_dir.display().to_string(),
                source,
            })?;
            Ok(Arc::new(SledStore::open(data_dir)?))
        }
        StoreConfig::Postgres(pg) => Ok(Arc::new(PgStore::connect(pg).await?)),
    }
}

/// Creates `admin` if the desk has no agents yet, before anyone can sign in.
async fn first_admin(store: &dyn Store, admin: &FirstAdmin) -> Result<(), StartError> {
    if !store.agents().await?.is_empty() {
        return Ok(());
    }
    let request = crate::control::Request::AgentAdd {
        name: admin.name.clone(),
        password: admin.password.clone(),
        admin: true,
    };
    crate::control::run(store, request, &mut |_| Ok(()))
        .await
        .map_err(|e| StartError::FirstAdmin(e.to_string()))?;
    tracing::info!(admin = %admin.name, "Created the first admin from FRONTDESK_ADMIN_PASSWORD; it is ignored from now on.");
    Ok(())
}

/// Starts the gateway described by `config` and returns once it listens.
pub async fn start(config: Config) -> Result<Gateway, StartError> {
    let (intents, templates) = load_rules(&config)?;
    crate::core::metrics::install();
    let config = Arc::new(config);
    let store = open_store(&config).await?;
    let control = match &config.store {
        StoreConfig::Sled(_) => {
            let dir = &config.server.data_dir;
            let socket = crate::control::server::serve(dir, store.clone()).map_err(|source| {
                StartError::Control {
                    path: crate::control::socket_dir(dir).display().to_string(),
                    source,
                }
            })?;
            Some(socket)
        }
        StoreConfig::Postgres(_) => None,
    };
    if let Some(admin) = &config.first_admin {
        first_admin(store.as_ref(), admin).await?;
    }
    let (stop, shutdown) = Shutdown::channel();
    let live = Arc::new(LiveUpdates::default());
    let events = Arc::new(Events::default());
    let relay_tasks = crate::core::relay::start(
        store.clone(),
        live.clone(),
        events.clone(),
        shutdown.clone(),
    );

    let mut channels = Channels::new();
    let mut register = |channel: Arc<dyn Channel>| channels.insert(channel.kind(), channel);
    if config.channels.web.enabled {
        register(Arc::new(WebChannel));
    }
    let email = match &config.channels.email {
        Some(email) => {
            let email = Arc::new(email.clone());
            let channel = email::EmailChannel::new(email.clone(), store.clone())
                .map_err(StartError::Email)?;
            register(Arc::new(channel));
            Some(email)
        }
        None => None,
    };
    let telegram = match &config.channels.telegram {
        Some(tg) => {
            let bot = telegram::bot(tg).map_err(StartError::Telegram)?;
            register(Arc::new(telegram::TelegramChannel {
                bot: bot.clone(),
                unconfirmed_sends: tg.unconfirmed_sends.get(),
            }));
            Some(bot)
        }
        None => None,
    };
    let outbox = Outbox::new(store.clone(), channels, live.clone(), events.clone());
    let outbox_task = tokio::spawn(outbox.clone().run(shutdown.clone()));
    let hours = config
        .business_hours
        .as_ref()
        .map(crate::service_levels::hours::BusinessHours::from_config)
        .transpose()
        .map_err(StartError::Hours)?;
    let teams = crate::service_levels::teams::Teams::new(&config.teams, &config.routing)
        .map_err(StartError::Teams)?;
    let rules = Arc::new(Rules {
        hours,
        teams: Arc::new(teams),
        intents: Arc::new(intents),
        templates: Arc::new(templates),
        events: events.clone(),
        sla: config.sla.clone(),
        segments: config.segments.clone(),
        surveys: config.surveys.clone(),
        minutes_per_customer: config.queue.minutes_per_customer,
        web_ack: config.channels.web.ack,
        auto_reply_cap: config.channels.email.as_ref().map(|email| AutoReplyCap {
            limit: email.auto_reply_limit,
            window_hours: email.auto_reply_window_hours,
        }),
    });
    let dispatcher = Dispatcher::start(
        store.clone(),
        rules.clone(),
        outbox.clone(),
        DISPATCH_WORKERS,
    );

    let pending = store.pending_turns().await?;
    if !pending.is_empty() {
        tracing::info!(
            turns = pending.len(),
            "Replaying customer turns interrupted by a stop."
        );
        let replay = dispatcher.clone();
        tokio::spawn(async move {
            for turn in pending {
                replay.submit(turn).await;
            }
        });
    }

    let sweep_dispatcher = dispatcher.clone();
    let inbox = Inbox::new(
        store.clone(),
        dispatcher,
        live.clone(),
        events.clone(),
        NewConversation {
            priority: config.queue.default_priority,
            locale: config.locale.default.clone(),
            segment: None,
            tags: Vec::new(),
        },
        rules.templates.locales().clone(),
        config.segments.clone(),
    );
    let listen = config.server.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: listen,
        source,
    })?;
    let (places_tx, places) = crate::core::queue_view::channel();
    let config_header_timeout = config.server.header_timeout_secs;
    let web_limits = (
        config.channels.web.session_messages_per_minute,
        config.channels.web.address_requests_per_minute,
    );
    let conversations = Conversations::new(store.clone(), events.clone(), outbox.clone());
    let app = Arc::new(App {
        places,
        config,
        store: store.clone(),
        inbox,
        conversations,
        outbox,
        rules,
        live,
        events,
        login_throttle: LoginThrottle::default(),
        session_throttle: crate::http::throttle::Throttle::per_minute(web_limits.0),
        address_throttle: crate::http::throttle::Throttle::per_minute(web_limits.1),
        telegram: telegram.clone(),
        shutdown: shutdown.clone(),
    });
    let mut background_tasks = Vec::new();
    let mut webhook_bot = None;
    if let (Some(bot), Some(tg)) = (telegram, &app.config.channels.telegram) {
        match tg.mode {
            TelegramMode::Polling => {
                let (inbox, poll_store, timeout) =
                    (app.inbox.clone(), store.clone(), tg.poll_timeout_secs);
                background_tasks.push(tokio::spawn(run_as_leader(
                    store.clone(),
                    "telegram-poll",
                    shutdown.clone(),
                    move |job_shutdown| {
                        telegram::poll::run(
                            bot.clone(),
                            inbox.clone(),
                            poll_store.clone(),
                            timeout,
                            job_shutdown,
                        )
                    },
                )));
            }
            TelegramMode::Webhook => {
                use teloxide::payloads::SetWebhookSetters;
                use teloxide::prelude::Requester;
                let url = tg.webhook_url.as_deref().unwrap_or_default();
                let url = url::Url::parse(url).map_err(StartError::Telegram)?;
                let secret = tg.webhook_secret.clone().unwrap_or_default();
                // Registering can fail while Telegram is unreachable; the
                // gateway still serves, and the log says what to fix.
                if let Err(error) = bot.set_webhook(url).secret_token(secret).await {
                    tracing::error!(%error, "Could not register the Telegram webhook; no Telegram messages arrive until it is.");
                }
                // Removed at stop, unless other instances share the
                // desk: they still serve it.
                if !store.shared() {
                    webhook_bot = Some(bot);
                }
            }
        }
    }
    background_tasks.push(tokio::spawn(crate::core::queue_view::run(
        store.clone(),
        app.events.clone(),
        app.config.queue.minutes_per_customer,
        places_tx,
        shutdown.clone(),
    )));
    background_tasks.extend(relay_tasks);
    let sweep_store = store.clone();
    background_tasks.push(tokio::spawn(run_as_leader(
        store.clone(),
        "turn-sweep",
        shutdown.clone(),
        move |job_shutdown| {
            crate::core::turn_sweep::run(
                sweep_store.clone(),
                sweep_dispatcher.clone(),
                job_shutdown,
            )
        },
    )));
    if let Some(retention) = &app.config.retention {
        let (retention_store, days) = (store.clone(), retention.resolved_days);
        background_tasks.push(tokio::spawn(run_as_leader(
            store.clone(),
            "retention",
            shutdown.clone(),
            move |job_shutdown| {
                crate::core::customers::run_retention(retention_store.clone(), days, job_shutdown)
            },
        )));
    }
    if let Some(sla) = &app.config.sla {
        let (watch_store, conversations, sla) =
            (store.clone(), app.conversations.clone(), sla.clone());
        background_tasks.push(tokio::spawn(run_as_leader(
            store.clone(),
            "sla-watch",
            shutdown.clone(),
            move |job_shutdown| {
                crate::core::sla_watch::run(
                    watch_store.clone(),
                    conversations.clone(),
                    sla.clone(),
                    job_shutdown,
                )
            },
        )));
    }
    if let Some(config) = email {
        let intake = email::intake::Intake {
            inbox: app.inbox.clone(),
            store: store.clone(),
            events: app.events.clone(),
            config,
        };
        background_tasks.push(tokio::spawn(run_as_leader(
            store.clone(),
            "email-imap",
            shutdown.clone(),
            move |job_shutdown| email::imap::run(intake.clone(), job_shutdown),
        )));
    }
    let header_timeout = Duration::from_secs(config_header_timeout.max(1));
    let router = crate::http::router(app);
    let mut until_stop = shutdown;
    let server = tokio::spawn(async move {
        crate::http::serve::serve(listener, router, header_timeout, async move {
            until_stop.stopped().await
        })
        .await
    });
    tracing::info!(%addr, "Frontdesk is listening.");
    Ok(Gateway {
        addr,
        stop,
        server,
        outbox: outbox_task,
        background_tasks,
        webhook_bot,
        control,
        store,
    })
}

impl Gateway {
    /// The gateway's store, for embedding programs and tests.
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// Resolves when the store can no longer make writes durable (the disk
    /// is full or failing), with the reason. The gateway then acknowledges
    /// nothing more; stop it and start it again once the store opens.
    pub async fn storage_failure(&self) -> String {
        loop {
            // A flush every quarter second finds a failing disk even when
            // nothing else flushes (web chat replies do not wait for one),
            // and bounds how long such a reply stays only in memory.
            let _ = self.store.sync().await;
            if let Some(failure) = self.store.failure() {
                return failure;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Resolves when an erasure left data in the store's files that only
    /// opening it again removes (sled): stop the gateway and start it again.
    pub async fn compaction_due(&self) {
        while !self.store.compaction_due() {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Stops accepting, lets open requests finish (up to 10 s), and flushes.
    pub async fn stop(mut self) {
        self.stop.stop();
        // Commands go to the store directly once the folder is free.
        self.control.take();
        if let Some(bot) = &self.webhook_bot {
            use teloxide::prelude::Requester;
            // Telegram then keeps updates until the next start sets it again.
            let removed =
                tokio::time::timeout(Duration::from_secs(5), bot.delete_webhook().into_future())
                    .await;
            if !matches!(removed, Ok(Ok(_))) {
                tracing::warn!("Could not remove the Telegram webhook at stop.");
            }
        }
        if tokio::time::timeout(Duration::from_secs(10), self.server)
            .await
            .is_err()
        {
            tracing::warn!("Open connections did not finish within 10 s; stopping anyway.");
        }
        let _ = self.outbox.await;
        for task in self.background_tasks {
            let _ = task.await;
        }
        if let Err(error) = self.store.sync().await {
            tracing::error!(%error, "The final flush failed.");
        }
        // Workers let go of the store as they wind down; wait for them so
        // the database is closed (and its folder unlocked) when stop returns.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while Arc::strong_count(&self.store) > 1 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if Arc::strong_count(&self.store) > 1 {
            tracing::warn!("Some tasks still hold the store after 5 s; it closes when they end.");
        }
        tracing::info!("Frontdesk stopped.");
    }
}
