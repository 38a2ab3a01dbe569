//! The database URL: parsed once, its password never shown.

use std::{fmt, str::FromStr};

/// A Postgres URL whose password never reaches logs or `Debug` output.
#[derive(Clone)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

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
}
