//! Which database events are for: the target as configured, and the server's identity once known.

use std::fmt;

use serde::{Deserialize, Serialize};
use sqlx::{
    PgConnection, PgPool,
    postgres::{PgConnectOptions, types::Oid},
};

/// The database events are written to. Never holds the password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// Host name (lowercase) or Unix socket directory, as configured.
    pub host: String,
    pub port: u16,
    pub database: String,
    /// Shown, never compared: the same database reached with another role is the same target.
    pub user: String,
    /// What the server said once connected; absent while it never answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<Server>,
}

/// The identity Postgres gives a database: its cluster and its OID within it. A database dropped
/// and created again, or restored from a dump, gets another OID; another cluster another
/// system identifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Server {
    /// `pg_control_system().system_identifier`, as text (it does not fit a JSON number exactly);
    /// absent when the role may not read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_identifier: Option<String>,
    pub database_oid: u32,
}

/// Whether events written for one target may be stored in another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Same,
    /// Another database; says how they differ.
    Different(String),
}

impl Target {
    /// The target as the connection options name it (the server part unknown).
    pub fn configured(options: &PgConnectOptions) -> Self {
        let host = match options.get_socket() {
            Some(socket) => socket.display().to_string(),
            None => options.get_host().to_lowercase(),
        };
        let user = options.get_username().to_owned();
        Self {
            host,
            port: options.get_port(),
            // Postgres' own default: the database named like the user.
            database: options.get_database().unwrap_or(&user).to_owned(),
            user,
            server: None,
        }
    }

    /// The configured target of the database `pool` connects to.
    pub fn of(pool: &PgPool) -> Self {
        Self::configured(&pool.connect_options())
    }

    pub fn with_server(self, server: Server) -> Self {
        Self {
            server: Some(server),
            ..self
        }
    }

    /// Whether events written for `self` belong in `current`. When both sides know the server's
    /// identity, it decides (however the database was reached); otherwise host, port and
    /// database name as configured must be the same.
    pub fn verdict(&self, current: &Target) -> Verdict {
        if let (Some(was), Some(now)) = (&self.server, &current.server) {
            if let (Some(a), Some(b)) = (&was.system_identifier, &now.system_identifier)
                && a != b
            {
                return Verdict::Different(format!(
                    "another Postgres cluster (system identifier {a}, now {b})"
                ));
            }
            if was.database_oid != now.database_oid {
                return Verdict::Different(format!(
                    "another database, or this one recreated or restored (database oid {}, now {})",
                    was.database_oid, now.database_oid
                ));
            }
            if was.system_identifier.is_some() && now.system_identifier.is_some() {
                return Verdict::Same;
            }
        }
        if self.same_configured(current) {
            Verdict::Same
        } else {
            Verdict::Different(format!(
                "another database ({}:{}/{}, now {}:{}/{})",
                self.host, self.port, self.database, current.host, current.port, current.database
            ))
        }
    }

    /// Host, port and database name are the same.
    pub fn same_configured(&self, other: &Target) -> bool {
        (&self.host, self.port, &self.database) == (&other.host, other.port, &other.database)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}@{}:{}/{}",
            self.user, self.host, self.port, self.database
        )?;
        if let Some(server) = &self.server {
            let system = server.system_identifier.as_deref().unwrap_or("unknown");
            write!(
                f,
                " (system {system}, database oid {})",
                server.database_oid
            )?;
        }
        Ok(())
    }
}

/// Asks the server which database `conn` is connected to.
pub async fn server_identity(conn: &mut PgConnection) -> Result<Server, sqlx::Error> {
    let oid: Oid =
        sqlx::query_scalar("select oid from pg_database where datname = current_database()")
            .fetch_one(&mut *conn)
            .await?;
    let system = sqlx::query_scalar("select system_identifier::text from pg_control_system()")
        .fetch_one(&mut *conn)
        .await;
    let system_identifier = match system {
        Ok(id) => Some(id),
        // insufficient_privilege: a provider may restrict it; the OID and the URL still tell.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42501") => None,
        Err(e) => return Err(e),
    };
    Ok(Server {
        system_identifier,
        database_oid: oid.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str, server: Option<(&str, u32)>) -> Target {
        let target = Target::configured(&url.parse().unwrap());
        match server {
            Some((system, oid)) => target.with_server(Server {
                system_identifier: Some(system.to_owned()),
                database_oid: oid,
            }),
            None => target,
        }
    }

    #[test]
    fn the_configured_target_never_holds_the_password() {
        let t = target("postgres://app:hunter2@DB.example:6543/staging", None);
        assert_eq!(t.to_string(), "app@db.example:6543/staging");
        assert!(!serde_json::to_string(&t).unwrap().contains("hunter2"));
    }

    #[test]
    fn defaults_are_spelled_out_so_equal_urls_compare_equal() {
        let short = target("postgres://app@db/app", None);
        let long = target("postgres://app@db:5432", None);
        assert_eq!(short.verdict(&long), Verdict::Same);
    }

    #[test]
    fn without_server_identity_host_port_and_name_decide_but_not_the_user() {
        let staging = target("postgres://a@db:5432/staging", None);
        let as_other_role = target("postgres://b:pw@db:5432/staging", Some(("1", 16384)));
        assert_eq!(staging.verdict(&as_other_role), Verdict::Same);
        for other in [
            "postgres://a@db:5432/production",
            "postgres://a@db2:5432/staging",
            "postgres://a@db:5433/staging",
        ] {
            let other = target(other, Some(("1", 16384)));
            assert!(matches!(staging.verdict(&other), Verdict::Different(_)));
        }
    }

    #[test]
    fn server_identity_tells_recreated_and_other_clusters_apart_and_spots_aliases() {
        let was = target("postgres://a@db:5432/staging", Some(("7", 16384)));
        let recreated = target("postgres://a@db:5432/staging", Some(("7", 16999)));
        let other_cluster = target("postgres://a@db:5432/staging", Some(("8", 16384)));
        let alias = target("postgres://a@127.0.0.1:6432/staging", Some(("7", 16384)));
        assert!(
            matches!(was.verdict(&recreated), Verdict::Different(w) if w.contains("recreated"))
        );
        assert!(
            matches!(was.verdict(&other_cluster), Verdict::Different(w) if w.contains("cluster"))
        );
        assert_eq!(was.verdict(&alias), Verdict::Same);
    }

    #[test]
    fn an_unreadable_system_identifier_falls_back_to_the_configured_target() {
        let mut was = target("postgres://a@db:5432/staging", Some(("7", 16384)));
        was.server.as_mut().unwrap().system_identifier = None;
        let elsewhere = target("postgres://a@db2:5432/staging", Some(("9", 16384)));
        let here = target("postgres://a@db:5432/staging", Some(("7", 16384)));
        assert!(matches!(was.verdict(&elsewhere), Verdict::Different(_)));
        assert_eq!(was.verdict(&here), Verdict::Same);
    }
}
