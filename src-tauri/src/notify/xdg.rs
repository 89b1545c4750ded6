//! The freedesktop notification server (`org.freedesktop.Notifications`) over the session bus,
//! taking a notification's signals only from the connection that showed it.
//!
//! Every client on the session bus may emit `ActionInvoked(id, "approve")`, and ids are small
//! sequential numbers, so a signal counts only when the bus says it came from the unique name
//! that owned `org.freedesktop.Notifications` when the notification was shown. That name is
//! looked up first, the signal subscription names it as the sender (the bus then routes
//! nobody else's signals to it), `Notify` goes to that name rather than to the well-known one
//! (so the notification is shown by exactly that server), and each signal's sender header is
//! checked again on arrival. A second subscription without a sender sees forgeries, so they
//! are reported ([`NotifyError::ForgedSignal`]) instead of passing unnoticed.

use std::collections::HashMap;

use futures_lite::StreamExt;
use zbus::fdo::DBusProxy;
use zbus::message::Type;
use zbus::names::{OwnedUniqueName, UniqueName, WellKnownName};
use zbus::zvariant::Value;
use zbus::{Connection, MatchRule, Message, MessageStream, OwnedMatchRule};

use super::NotifyError;

const NAME: &str = "org.freedesktop.Notifications";
const PATH: &str = "/org/freedesktop/Notifications";
const INTERFACE: &str = "org.freedesktop.Notifications";

/// `expire_timeout` of a notification that stays until it is answered or closed.
pub(super) const NEVER_EXPIRES: i32 = 0;

/// The `Notify` arguments Assent uses.
pub(super) struct Request<'a> {
    /// `app_name`.
    pub app_name: &'a str,
    /// `app_icon`: a theme icon name or an absolute path (also sent as the `image-path`
    /// hint, which some servers prefer); empty for none.
    pub app_icon: &'a str,
    /// `summary` (plain text).
    pub summary: &'a str,
    /// `body`, already escaped when the server interprets markup.
    pub body: &'a str,
    /// Action keys and labels, in order.
    pub actions: &'a [(&'a str, &'a str)],
    /// `expire_timeout` in milliseconds; [`NEVER_EXPIRES`] or -1 (server default).
    pub expire_timeout: i32,
    /// No sound, low urgency (`suppress-sound` and `urgency` 0 hints).
    pub quiet: bool,
}

/// What the notification server reported about one notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Event {
    /// `ActionInvoked` with this action key (`default` for the body click).
    Action(String),
    /// `NotificationClosed` with this reason (1 expired, 2 dismissed, 3 closed by a call).
    Closed(u32),
}

/// A shown notification: its id and the server that showed it, enough to close it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Shown {
    /// The id the server returned from `Notify`.
    pub id: u32,
    /// The unique bus name of that server.
    pub server: OwnedUniqueName,
}

/// A session-bus connection to the notification server, shared by all notifications.
#[derive(Clone)]
pub(super) struct Client {
    conn: Connection,
    bus: DBusProxy<'static>,
}

/// The subscriptions that follow one shown notification until it is answered or closed.
pub(super) struct Watch {
    shown: Shown,
    /// Signals the bus routes only from `shown.server`.
    from_server: MessageStream,
    /// Every signal on the notification interface: where forgeries show up.
    from_anyone: MessageStream,
}

fn bus_error(e: impl std::fmt::Display) -> NotifyError {
    NotifyError::Show(e.to_string())
}

impl Client {
    /// Connects to the session bus.
    pub(super) async fn connect() -> Result<Client, NotifyError> {
        let conn = Connection::session().await.map_err(bus_error)?;
        let bus = DBusProxy::builder(&conn)
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await
            .map_err(bus_error)?;
        Ok(Client { conn, bus })
    }

    /// `GetCapabilities` of the current server.
    pub(super) async fn capabilities(&self) -> Result<Vec<String>, NotifyError> {
        self.conn
            .call_method(Some(NAME), PATH, Some(INTERFACE), "GetCapabilities", &())
            .await
            .map_err(bus_error)?
            .body()
            .deserialize()
            .map_err(bus_error)
    }

    /// Shows `n` and returns what follows its signals. The subscriptions exist before `Notify`
    /// is sent, so even an instant answer is not missed.
    pub(super) async fn show(&self, n: &Request<'_>) -> Result<Watch, NotifyError> {
        let server = self.server().await?;
        let from_server = MessageStream::for_match_rule(rule(Some(&server))?, &self.conn, None)
            .await
            .map_err(bus_error)?;
        let from_anyone = MessageStream::for_match_rule(rule(None)?, &self.conn, None)
            .await
            .map_err(bus_error)?;
        let actions: Vec<&str> = n.actions.iter().flat_map(|(k, l)| [*k, *l]).collect();
        let mut hints: HashMap<&str, Value<'_>> = HashMap::new();
        if !n.app_icon.is_empty() {
            hints.insert("image-path", Value::from(n.app_icon));
        }
        if n.quiet {
            hints.insert("suppress-sound", Value::Bool(true));
            hints.insert("urgency", Value::U8(0));
        }
        let id: u32 = self
            .conn
            .call_method(
                Some(server.as_str()),
                PATH,
                Some(INTERFACE),
                "Notify",
                &(
                    n.app_name,
                    0u32,
                    n.app_icon,
                    n.summary,
                    n.body,
                    actions,
                    hints,
                    n.expire_timeout,
                ),
            )
            .await
            .map_err(bus_error)?
            .body()
            .deserialize()
            .map_err(bus_error)?;
        Ok(Watch {
            shown: Shown { id, server },
            from_server,
            from_anyone,
        })
    }

    /// `CloseNotification`, sent to the server that showed it: a server started since then
    /// numbers its own notifications and may have given the id to another one.
    pub(super) async fn close(&self, shown: &Shown) -> Result<(), NotifyError> {
        self.conn
            .call_method(
                Some(shown.server.as_str()),
                PATH,
                Some(INTERFACE),
                "CloseNotification",
                &(shown.id,),
            )
            .await
            .map_err(bus_error)?;
        Ok(())
    }

    /// The unique name that owns `org.freedesktop.Notifications` now, starting the server by
    /// D-Bus activation (what `Notify` to the well-known name would do) when nobody owns it.
    async fn server(&self) -> Result<OwnedUniqueName, NotifyError> {
        let name = WellKnownName::from_static_str(NAME).map_err(bus_error)?;
        match self.bus.get_name_owner(name.clone().into()).await {
            Ok(owner) => return Ok(owner),
            Err(zbus::fdo::Error::NameHasNoOwner(_)) => {}
            Err(e) => return Err(bus_error(e)),
        }
        self.bus
            .start_service_by_name(name.clone(), 0)
            .await
            .map_err(bus_error)?;
        self.bus
            .get_name_owner(name.into())
            .await
            .map_err(bus_error)
    }
}

impl Watch {
    /// The notification this watch follows.
    pub(super) fn shown(&self) -> &Shown {
        &self.shown
    }

    /// The next signal about this notification from the server that showed it.
    ///
    /// [`NotifyError::ForgedSignal`] reports a signal about it from anyone else, which is not
    /// an answer: call again to keep waiting. Any other error means no answer can come (the
    /// connection ended).
    pub(super) async fn next(&mut self) -> Result<Event, NotifyError> {
        loop {
            tokio::select! {
                msg = self.from_server.next() => {
                    if let Some(event) = judge(&self.shown, &received(msg)?)? {
                        return Ok(event);
                    }
                }
                msg = self.from_anyone.next() => {
                    // The server's own signals arrive on both streams and count from the first.
                    judge(&self.shown, &received(msg)?)?;
                }
            }
        }
    }
}

/// A message from a subscription, or why the subscription ended.
fn received(msg: Option<zbus::Result<Message>>) -> Result<Message, NotifyError> {
    match msg {
        Some(Ok(m)) => Ok(m),
        Some(Err(e)) => Err(NotifyError::Gone(e.to_string())),
        None => Err(NotifyError::Gone(
            "the session bus connection closed".into(),
        )),
    }
}

/// Signals on the notification object and interface; from `sender` only when given.
fn rule(sender: Option<&UniqueName<'_>>) -> Result<OwnedMatchRule, NotifyError> {
    let mut b = MatchRule::builder()
        .msg_type(Type::Signal)
        .path(PATH)
        .and_then(|b| b.interface(INTERFACE))
        .map_err(bus_error)?;
    if let Some(s) = sender {
        b = b.sender(s.clone()).map_err(bus_error)?;
    }
    Ok(b.build().into())
}

/// What `msg` says about notification `shown`: `Ok(None)` when it is about another one (or is
/// no notification signal at all), the event when its sender is the server that showed it, and
/// [`NotifyError::ForgedSignal`] when anyone else sent it.
fn judge(shown: &Shown, msg: &Message) -> Result<Option<Event>, NotifyError> {
    let header = msg.header();
    let ours = msg.message_type() == Type::Signal
        && header.path().is_some_and(|p| p.as_str() == PATH)
        && header.interface().is_some_and(|i| i.as_str() == INTERFACE);
    if !ours {
        return Ok(None);
    }
    let body = msg.body();
    let parsed = match header.member().map(|m| m.as_str()) {
        Some("ActionInvoked") => body
            .deserialize::<(u32, String)>()
            .ok()
            .map(|(id, key)| (id, Event::Action(key))),
        Some("NotificationClosed") => body
            .deserialize::<(u32, u32)>()
            .ok()
            .map(|(id, reason)| (id, Event::Closed(reason))),
        _ => None,
    };
    let Some((id, event)) = parsed.filter(|(id, _)| *id == shown.id) else {
        return Ok(None);
    };
    match header.sender() {
        Some(s) if s.as_str() == shown.server.as_str() => Ok(Some(event)),
        other => Err(NotifyError::ForgedSignal {
            id,
            sender: other.map_or_else(|| "(no sender)".to_owned(), |s| s.to_string()),
            server: shown.server.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVER: &str = ":1.7";

    fn shown() -> Shown {
        Shown {
            id: 3,
            server: OwnedUniqueName::try_from(SERVER).unwrap(),
        }
    }

    fn signal<B>(sender: Option<&str>, member: &str, body: &B) -> Message
    where
        B: serde::Serialize + zbus::zvariant::DynamicType,
    {
        let mut b = Message::signal(PATH, INTERFACE, member).unwrap();
        if let Some(s) = sender {
            b = b.sender(s).unwrap();
        }
        b.build(body).unwrap()
    }

    #[test]
    fn the_servers_own_signals_answer() {
        let msg = signal(Some(SERVER), "ActionInvoked", &(3u32, "approve"));
        assert_eq!(
            judge(&shown(), &msg),
            Ok(Some(Event::Action("approve".into())))
        );
        let msg = signal(Some(SERVER), "NotificationClosed", &(3u32, 2u32));
        assert_eq!(judge(&shown(), &msg), Ok(Some(Event::Closed(2))));
    }

    #[test]
    fn a_signal_from_another_connection_is_refused_with_its_sender() {
        for member in ["ActionInvoked", "NotificationClosed"] {
            let msg = if member == "ActionInvoked" {
                signal(Some(":1.42"), member, &(3u32, "approve"))
            } else {
                signal(Some(":1.42"), member, &(3u32, 2u32))
            };
            let e = judge(&shown(), &msg).unwrap_err();
            assert_eq!(
                e,
                NotifyError::ForgedSignal {
                    id: 3,
                    sender: ":1.42".into(),
                    server: SERVER.into()
                },
                "{member}"
            );
            assert_eq!(e.code(), "notification_signal_forged");
            assert!(e.to_string().contains(":1.42"), "{e}");
        }
        let msg = signal(None, "ActionInvoked", &(3u32, "approve"));
        assert!(matches!(
            judge(&shown(), &msg),
            Err(NotifyError::ForgedSignal { sender, .. }) if sender == "(no sender)"
        ));
    }

    #[test]
    fn signals_about_other_notifications_or_malformed_are_not_ours() {
        let cases = [
            signal(Some(SERVER), "ActionInvoked", &(4u32, "approve")),
            signal(Some(":1.42"), "ActionInvoked", &(4u32, "approve")),
            // `gdbus emit … 3 approve` sends an int32: not the spec's signature.
            signal(Some(SERVER), "ActionInvoked", &(3i32, "approve")),
            signal(Some(SERVER), "ActionInvoked", &(3u32,)),
            signal(Some(SERVER), "NotificationClosed", &(3u32, "2")),
            signal(Some(SERVER), "ActivationToken", &(3u32, "token")),
        ];
        for msg in &cases {
            assert_eq!(judge(&shown(), msg), Ok(None), "{msg:?}");
        }
        let elsewhere = Message::signal("/elsewhere", INTERFACE, "ActionInvoked")
            .unwrap()
            .sender(SERVER)
            .unwrap()
            .build(&(3u32, "approve"))
            .unwrap();
        assert_eq!(judge(&shown(), &elsewhere), Ok(None));
    }

    #[test]
    fn the_server_subscription_names_its_sender() {
        let server = shown().server;
        assert_eq!(
            rule(Some(&server)).unwrap().to_string(),
            "type='signal',sender=':1.7',interface='org.freedesktop.Notifications',\
             path='/org/freedesktop/Notifications'"
        );
        assert!(!rule(None).unwrap().to_string().contains("sender"));
    }
}
