//! Secrets out of error text: the values of the cloud credential variables in the environment.

/// Variables whose values must never be printed: the name has one of these words, and is not an
/// identifier (`AWS_ACCESS_KEY_ID` is shown by AWS itself in its errors).
const PROVIDERS: &[&str] = &["AWS_", "AZURE_", "GOOGLE_"];
const SECRET_WORDS: &[&str] = &["SECRET", "TOKEN", "KEY", "SAS", "PASSWORD", "CREDENTIAL"];

/// `text` with the value of every credential variable set in the environment replaced.
pub fn redact(text: &str) -> String {
    let secrets = std::env::vars().filter(|(name, _)| is_secret(name));
    redact_values(text, secrets.map(|(_, value)| value))
}

fn is_secret(name: &str) -> bool {
    PROVIDERS.iter().any(|p| name.starts_with(p))
        && !name.ends_with("_ID")
        && SECRET_WORDS.iter().any(|w| name.contains(w))
}

fn redact_values(text: &str, values: impl Iterator<Item = String>) -> String {
    let mut text = text.to_owned();
    for value in values {
        // A short value (a flag, a region) would blank out ordinary words.
        if value.len() >= 8 {
            text = text.replace(&value, "[redacted]");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_variables_are_told_from_the_rest() {
        assert!(is_secret("AWS_SECRET_ACCESS_KEY"));
        assert!(is_secret("AWS_SESSION_TOKEN"));
        assert!(is_secret("AZURE_STORAGE_ACCOUNT_KEY"));
        assert!(is_secret("GOOGLE_SERVICE_ACCOUNT_KEY"));
        assert!(!is_secret("AWS_ACCESS_KEY_ID"));
        assert!(!is_secret("AWS_REGION"));
        assert!(!is_secret("AWS_ENDPOINT_URL"));
        assert!(!is_secret("LOBBYLOG_SECRET_KEY"));
    }

    #[test]
    fn every_occurrence_of_a_secret_value_is_replaced() {
        let text = "signature for wJalrXUtnFEMI/K7MDENG mismatched (wJalrXUtnFEMI/K7MDENG)";
        let out = redact_values(
            text,
            ["wJalrXUtnFEMI/K7MDENG".to_owned(), "true".into()].into_iter(),
        );
        assert_eq!(out, "signature for [redacted] mismatched ([redacted])");
    }
}
