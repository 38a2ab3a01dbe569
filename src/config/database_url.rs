//! The database URL: parsed once, its password never shown.

use std::{fmt, str::FromStr};

/// A Postgres URL whose password never reaches logs or `Debug` output.
#[derive(Clone)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Fails unless this is a `postgres://` or `postgresql://` URL a Postgres client can read.
    /// The message never repeats the value, which may hold a password.
    pub fn validate(&self) -> Result<(), String> {
        let scheme = self.0.split_once("://").map(|(scheme, _)| scheme);
        if !matches!(scheme, Some("postgres" | "postgresql")) {
            return Err(
                "DATABASE_URL (--database-url) must be a postgres:// or postgresql:// URL; \
                 the value given is not shown, as it may hold a password"
                    .into(),
            );
        }
        sqlx::postgres::PgConnectOptions::from_str(&self.0)
            .map(drop)
            .map_err(|_| {
                "DATABASE_URL (--database-url) is not a valid Postgres URL (host, port or a \
                 parameter cannot be read); the value given is not shown, as it may hold a password"
                    .into()
            })
    }
}

/// Parsing never fails, so clap never echoes the value; [`DatabaseUrl::validate`] checks it.
impl FromStr for DatabaseUrl {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_password(&self.0))
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_password(&self.0))
    }
}

fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "[not a postgres:// URL; not shown]".into();
    };
    let (authority, tail) = rest
        .split_once(['/', '?'])
        .map_or((rest, ""), |(a, _)| (a, &rest[a.len()..]));
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:[redacted]@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    // libpq also takes the password as a query parameter.
    let tail = match tail.split_once("password=") {
        Some((before, after)) => {
            let rest = after.split_once('&').map_or("", |(_, r)| r);
            let sep = if rest.is_empty() { "" } else { "&" };
            format!("{before}password=[redacted]{sep}{rest}")
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_passwords_are_redacted_wherever_they_are() {
        let cases = [
            (
                "postgres://app:hunter2@db:5432/lobbylog",
                "postgres://app:[redacted]@db:5432/lobbylog",
            ),
            (
                "postgres://app@db/lobbylog?password=hunter2&sslmode=require",
                "postgres://app@db/lobbylog?password=[redacted]&sslmode=require",
            ),
            ("postgres://db/lobbylog", "postgres://db/lobbylog"),
            (
                "app:hunter2@db/lobbylog",
                "[not a postgres:// URL; not shown]",
            ),
        ];
        for (url, shown) in cases {
            let url: DatabaseUrl = url.parse().unwrap();
            assert_eq!(format!("{url:?}"), shown);
            assert_eq!(url.to_string(), shown);
        }
    }

    #[test]
    fn only_postgres_urls_pass_and_errors_never_repeat_the_value() {
        for good in [
            "postgres://app:hunter2@db:5432/lobbylog",
            "postgresql://db/lobbylog?sslmode=disable",
        ] {
            assert_eq!(good.parse::<DatabaseUrl>().unwrap().validate(), Ok(()));
        }
        for bad in [
            "app:hunter2@db.example.com:5432/lobbylog",
            "mysql://app:hunter2@db/lobbylog",
            "postgres://app:hunter2@db:notaport/lobbylog",
            "hunter2",
            "",
        ] {
            let err = bad.parse::<DatabaseUrl>().unwrap().validate().unwrap_err();
            assert!(
                err.contains("DATABASE_URL") && !err.contains("hunter2"),
                "{bad}: {err}"
            );
        }
    }
}
