//! The real gnome-keyring Secret Service as a test subject: lock and unlock its login
//! collection over D-Bus, stop and start it.
//!
//! Two flavours: [`LockedLogin`] locks the keyring of the desktop `scripts/headless.sh` started
//! (the one the app under tauri-driver uses) and unlocks it again when dropped, so later tests
//! find it as they expect; [`PrivateKeyring`] runs its own `dbus-daemon` (without D-Bus
//! activation, so a stopped Secret Service stays absent) and its own `gnome-keyring-daemon`,
//! for CLI processes that are pointed at it with `DBUS_SESSION_BUS_ADDRESS`. Stopping or
//! locking a private one cannot disturb any other test.

use crate::error::{Error, Result};
use crate::wait;
use dbus::arg::{RefArg, Variant};
use dbus::blocking::stdintf::org_freedesktop_dbus::Properties;
use dbus::blocking::{Connection, Proxy};
use dbus::channel::Channel;
use dbus::Path as ObjectPath;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Well-known bus name of the Secret Service.
pub const SECRETS: &str = "org.freedesktop.secrets";
/// Object path of gnome-keyring's login collection (where keyring 3 stores Assent's keys).
pub const LOGIN: &str = "/org/freedesktop/secrets/collection/login";
const SERVICE_PATH: &str = "/org/freedesktop/secrets";
// gnome-keyring's own interface for unlocking with the password instead of a prompt.
const GNOME_KEYRING_INTERNAL: &str = "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface";
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
// Hang guard for daemons to appear or go away (they take milliseconds).
const SETTLE: Duration = Duration::from_secs(20);
const PROMPTER: &str = "/usr/libexec/gcr-prompter";

/// The login password of the desktop's keyring: what `scripts/headless.sh` unlocks it with
/// (`assent-ci`), or `ASSENT_KEYRING_PASSWORD`.
pub fn desktop_password() -> String {
    std::env::var("ASSENT_KEYRING_PASSWORD").unwrap_or_else(|_| "assent-ci".into())
}

/// True when `ASSENT_TEST_KEYRING=1` asks for tests against the real keychain.
pub fn keyring_requested() -> bool {
    std::env::var("ASSENT_TEST_KEYRING").as_deref() == Ok("1")
}

fn dbus_err(what: &str, e: dbus::Error) -> Error {
    Error::process(
        "D-Bus",
        format!(
            "{what}: {}: {}",
            e.name().unwrap_or("error"),
            e.message().unwrap_or("")
        ),
    )
}

/// One connection to a bus, for talking to the Secret Service there.
pub struct Bus {
    conn: Connection,
}

impl Bus {
    /// The session bus of this process (`DBUS_SESSION_BUS_ADDRESS`).
    pub fn session() -> Result<Self> {
        let conn = Connection::new_session().map_err(|e| dbus_err("session bus", e))?;
        Ok(Bus { conn })
    }

    /// The bus at `address`.
    pub fn at(address: &str) -> Result<Self> {
        let mut ch = Channel::open_private(address).map_err(|e| dbus_err(address, e))?;
        ch.register().map_err(|e| dbus_err("registering", e))?;
        Ok(Bus {
            conn: Connection::from(ch),
        })
    }

    fn proxy<'a>(&'a self, dest: &'a str, path: &'a str) -> Proxy<'a, &'a Connection> {
        self.conn.with_proxy(dest, path, CALL_TIMEOUT)
    }

    /// Whether someone owns `name` on this bus.
    pub fn has_owner(&self, name: &str) -> Result<bool> {
        let (owned,): (bool,) = self
            .proxy("org.freedesktop.DBus", "/org/freedesktop/DBus")
            .method_call("org.freedesktop.DBus", "NameHasOwner", (name,))
            .map_err(|e| dbus_err("NameHasOwner", e))?;
        Ok(owned)
    }

    /// Locks the login collection (`Secret.Service.Lock`; gnome-keyring locks without a prompt).
    pub fn lock_login(&self) -> Result<()> {
        let (locked, _prompt): (Vec<ObjectPath<'static>>, ObjectPath<'static>) = self
            .proxy(SECRETS, SERVICE_PATH)
            .method_call(
                "org.freedesktop.Secret.Service",
                "Lock",
                (vec![ObjectPath::from(LOGIN)],),
            )
            .map_err(|e| dbus_err("Secret.Service.Lock", e))?;
        if !locked.iter().any(|p| &**p == LOGIN) {
            return Err(Error::process(
                "D-Bus",
                format!("Lock did not lock {LOGIN} (locked: {locked:?})"),
            ));
        }
        Ok(())
    }

    /// Whether the login collection is locked.
    pub fn login_locked(&self) -> Result<bool> {
        self.proxy(SECRETS, LOGIN)
            .get("org.freedesktop.Secret.Collection", "Locked")
            .map_err(|e| dbus_err("Collection.Locked", e))
    }

    /// Unlocks the login collection with its password, the way the login manager does: no
    /// prompt (there is nobody to answer one). The secret travels in a `plain` session, which
    /// only lives as long as this connection, hence one connection for both calls.
    pub fn unlock_login(&self, password: &str) -> Result<()> {
        let (_out, session): (Variant<Box<dyn RefArg>>, ObjectPath<'static>) = self
            .proxy(SECRETS, SERVICE_PATH)
            .method_call(
                "org.freedesktop.Secret.Service",
                "OpenSession",
                ("plain", Variant(String::new())),
            )
            .map_err(|e| dbus_err("Secret.Service.OpenSession", e))?;
        let secret = (
            session.clone(),
            Vec::<u8>::new(),
            password.as_bytes().to_vec(),
            "text/plain".to_string(),
        );
        self.proxy(SECRETS, SERVICE_PATH)
            .method_call::<(), _, _, _>(
                GNOME_KEYRING_INTERNAL,
                "UnlockWithMasterPassword",
                (ObjectPath::from(LOGIN), secret),
            )
            .map_err(|e| dbus_err("UnlockWithMasterPassword", e))?;
        let _ = self.proxy(SECRETS, &session).method_call::<(), _, _, _>(
            "org.freedesktop.Secret.Session",
            "Close",
            (),
        );
        if self.login_locked()? {
            return Err(Error::process(
                "D-Bus",
                "the login collection is still locked after UnlockWithMasterPassword (wrong password?)",
            ));
        }
        Ok(())
    }
}

/// The desktop's login keyring, locked; unlocked again by [`LockedLogin::unlock`] or on drop,
/// whatever the test's outcome, so the tests after it find an unlocked keyring.
pub struct LockedLogin {
    bus: Bus,
    password: String,
    unlocked: bool,
}

impl LockedLogin {
    /// Locks the login collection of this process's session bus (the headless desktop's).
    pub fn lock_desktop() -> Result<Self> {
        let bus = Bus::session()?;
        let guard = LockedLogin {
            bus,
            password: desktop_password(),
            unlocked: false,
        };
        guard.bus.lock_login()?;
        if !guard.bus.login_locked()? {
            return Err(Error::Assertion(
                "the login collection reports unlocked right after Lock".into(),
            ));
        }
        Ok(guard)
    }

    /// Whether the login collection is locked now.
    pub fn is_locked(&self) -> Result<bool> {
        self.bus.login_locked()
    }

    /// Unlocks it (as logging in does) and checks it really is unlocked.
    pub fn unlock(&mut self) -> Result<()> {
        self.bus.unlock_login(&self.password)?;
        self.unlocked = true;
        Ok(())
    }
}

impl Drop for LockedLogin {
    fn drop(&mut self) {
        if !self.unlocked {
            if let Err(e) = self.bus.unlock_login(&self.password) {
                eprintln!("could not unlock the desktop keyring again: {e}");
            }
        }
    }
}

/// A Secret Service of our own: a private `dbus-daemon` and a `gnome-keyring-daemon` on it,
/// with its own runtime and data folders. Everything is stopped when it is dropped.
pub struct PrivateKeyring {
    dir: TempDir,
    bus_daemon: Child,
    address: String,
    keyring: Option<Child>,
    password: String,
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

impl PrivateKeyring {
    /// Starts the bus and an unlocked keyring. Nothing on this bus is D-Bus activatable: no
    /// prompter (an unlock prompt fails at once) and no second keyring when ours is stopped.
    pub fn start() -> Result<Self> {
        Self::start_inner(false)
    }

    /// Like [`PrivateKeyring::start`], but gnome-keyring's unlock prompter (`gcr-prompter`)
    /// can be activated and shows on `DISPLAY`: a prompt that opens and that nobody answers.
    pub fn start_with_prompter() -> Result<Self> {
        if std::env::var_os("DISPLAY").is_none() {
            return Err(Error::Environment(
                "DISPLAY is not set (the prompter needs the headless X server)".into(),
            ));
        }
        if !Path::new(PROMPTER).is_file() {
            return Err(Error::Environment(format!(
                "{PROMPTER} is missing (apt-get install gcr)"
            )));
        }
        Self::start_inner(true)
    }

    fn start_inner(prompter: bool) -> Result<Self> {
        for tool in ["dbus-daemon", "gnome-keyring-daemon"] {
            if crate::env::which(tool).is_none() {
                return Err(Error::Environment(format!(
                    "{tool} is not on PATH (run scripts/setup.sh test)"
                )));
            }
        }
        let dir = tempfile::Builder::new()
            .prefix("assent-kr-")
            .tempdir()
            .map_err(|e| Error::io("creating the keyring dir", e))?;
        let run = dir.path().join("run");
        std::fs::create_dir_all(&run).map_err(|e| Error::io("creating the runtime dir", e))?;
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io("chmod of the runtime dir", e))?;
        std::fs::create_dir_all(dir.path().join("share"))
            .map_err(|e| Error::io("creating the data dir", e))?;
        let services = if prompter {
            let services = dir.path().join("services");
            std::fs::create_dir_all(&services)
                .map_err(|e| Error::io("creating the service dir", e))?;
            std::fs::write(
                services.join("org.gnome.keyring.SystemPrompter.service"),
                format!(
                    "[D-BUS Service]\nName=org.gnome.keyring.SystemPrompter\nExec={PROMPTER}\n"
                ),
            )
            .map_err(|e| Error::io("writing the prompter service file", e))?;
            format!("<servicedir>{}</servicedir>", services.display())
        } else {
            String::new()
        };
        let conf = dir.path().join("bus.conf");
        std::fs::write(
            &conf,
            format!(
                "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n \
                 \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n\
                 <busconfig><type>session</type><listen>unix:dir={}</listen><auth>EXTERNAL</auth>{services}\
                 <policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>\
                 <allow eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>\n",
                dir.path().display()
            ),
        )
        .map_err(|e| Error::io("writing the bus config", e))?;
        let log = std::fs::File::create(dir.path().join("dbus-daemon.log"))
            .map_err(|e| Error::io("creating the bus log", e))?;
        let mut bus_daemon = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", conf.display()))
            .args(["--nofork", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| Error::process("dbus-daemon", format!("spawn failed: {e}")))?;
        let mut address = String::new();
        let read = bus_daemon
            .stdout
            .take()
            .map(|out| BufReader::new(out).read_line(&mut address));
        let address = address.trim().to_string();
        if !matches!(read, Some(Ok(n)) if n > 0) || address.is_empty() {
            kill(&mut bus_daemon);
            return Err(Error::process(
                "dbus-daemon",
                format!(
                    "printed no address ({read:?}); log: {}",
                    dir.path().join("dbus-daemon.log").display()
                ),
            ));
        }
        let mut kr = PrivateKeyring {
            dir,
            bus_daemon,
            address,
            keyring: None,
            password: "private-login".into(),
        };
        kr.start_daemon()?;
        Ok(kr)
    }

    /// The bus address to give child processes as `DBUS_SESSION_BUS_ADDRESS`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Where the daemons log.
    pub fn log_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A connection to the private bus.
    pub fn bus(&self) -> Result<Bus> {
        Bus::at(&self.address)
    }

    /// Starts `gnome-keyring-daemon --unlock` (the login keyring is created on first start and
    /// unlocked with its password on every start, as at login) and waits for its bus name.
    pub fn start_daemon(&mut self) -> Result<()> {
        if self.keyring.is_some() {
            return Ok(());
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("gnome-keyring.log"))
            .map_err(|e| Error::io("opening the keyring log", e))?;
        let log2 = log
            .try_clone()
            .map_err(|e| Error::io("cloning the keyring log", e))?;
        let mut child = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .env("XDG_RUNTIME_DIR", self.dir.path().join("run"))
            .env("XDG_DATA_HOME", self.dir.path().join("share"))
            .env_remove("GNOME_KEYRING_CONTROL")
            .stdin(Stdio::piped())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| Error::process("gnome-keyring-daemon", format!("spawn failed: {e}")))?;
        // --unlock reads the password from stdin up to EOF.
        let fed = child
            .stdin
            .take()
            .map(|mut stdin| stdin.write_all(self.password.as_bytes()));
        if !matches!(fed, Some(Ok(()))) {
            kill(&mut child);
            return Err(Error::process(
                "gnome-keyring-daemon",
                format!("could not write the password to its stdin: {fed:?}"),
            ));
        }
        self.keyring = Some(child);
        self.wait_owner(true)
    }

    /// Stops the daemon: the Secret Service is absent until [`PrivateKeyring::start_daemon`].
    pub fn stop_daemon(&mut self) -> Result<()> {
        if let Some(mut child) = self.keyring.take() {
            kill(&mut child);
        }
        self.wait_owner(false)
    }

    fn wait_owner(&mut self, present: bool) -> Result<()> {
        let bus = self.bus()?;
        let start = Instant::now();
        loop {
            if bus.has_owner(SECRETS)? == present {
                return Ok(());
            }
            if let Some(child) = self.keyring.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.keyring = None;
                    return Err(Error::process(
                        "gnome-keyring-daemon",
                        format!("exited with {status}; log: {}", self.log_dir().display()),
                    ));
                }
            }
            if start.elapsed() >= SETTLE {
                return Err(Error::Timeout {
                    what: format!(
                        "{SECRETS} to be {} on the private bus",
                        if present { "owned" } else { "released" }
                    ),
                    secs: SETTLE.as_secs(),
                });
            }
            std::thread::sleep(wait::TICK);
        }
    }

    /// Locks the login collection.
    pub fn lock(&self) -> Result<()> {
        let bus = self.bus()?;
        bus.lock_login()?;
        if !bus.login_locked()? {
            return Err(Error::Assertion(
                "the private login collection reports unlocked right after Lock".into(),
            ));
        }
        Ok(())
    }

    /// Unlocks the login collection with its password.
    pub fn unlock(&self) -> Result<()> {
        self.bus()?.unlock_login(&self.password)
    }

    /// Whether the login collection is locked.
    pub fn is_locked(&self) -> Result<bool> {
        self.bus()?.login_locked()
    }
}

impl Drop for PrivateKeyring {
    fn drop(&mut self) {
        if let Some(mut child) = self.keyring.take() {
            kill(&mut child);
        }
        // Activated services (the prompter) exit with their bus.
        kill(&mut self.bus_daemon);
    }
}
