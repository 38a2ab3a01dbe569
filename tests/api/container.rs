//! The container setup: docker-compose.yml, the Dockerfile and .dockerignore.

use yaml_rust2::{Yaml, YamlLoader};

use crate::docs::{env_vars, read};

/// What compose sets for lobbylog itself; every other setting comes from .env.
const FIXED_BY_COMPOSE: [&str; 5] = [
    "DATABASE_URL",
    "LOBBYLOG_LISTEN",
    "LOBBYLOG_ADMIN_LISTEN",
    "DAILY_WEBHOOK_SECRET",
    "LOBBYLOG_SPOOL_DIR",
];

fn compose_services() -> Yaml {
    let docs = YamlLoader::load_from_str(&read("docker-compose.yml"))
        .expect("docker-compose.yml is not YAML");
    docs[0]["services"].clone()
}

/// The host address and port of a published port, short (`[IP:]HOST:CONTAINER`) or long syntax;
/// no address means every interface.
fn published(port: &Yaml) -> (Option<String>, String) {
    match port {
        Yaml::Hash(_) => (
            port["host_ip"].as_str().map(String::from),
            match &port["published"] {
                Yaml::Integer(n) => n.to_string(),
                other => other.as_str().unwrap_or("").to_string(),
            },
        ),
        Yaml::Integer(n) => (None, n.to_string()),
        _ => {
            let spec = port
                .as_str()
                .expect("a port is a string, a number or a map");
            let parts: Vec<&str> = spec.split(':').collect();
            match parts.as_slice() {
                [ip, host, _] => (Some(ip.to_string()), host.to_string()),
                [host, _] => (None, host.to_string()),
                _ => (None, String::new()),
            }
        }
    }
}

#[test]
fn docker_compose_parses_and_configures_lobbylog() {
    let services = compose_services();
    assert!(
        !services["postgres"]["healthcheck"].is_badvalue(),
        "postgres needs a healthcheck"
    );
    let lobbylog = &services["lobbylog"];
    assert_eq!(lobbylog["build"].as_str(), Some("."));
    assert!(
        !lobbylog["healthcheck"].is_badvalue(),
        "lobbylog needs a healthcheck"
    );
    let Yaml::Hash(environment) = &lobbylog["environment"] else {
        panic!("lobbylog.environment must be a map");
    };
    let known = env_vars();
    for key in environment.keys() {
        let key = key.as_str().unwrap();
        assert!(
            key == "RUST_LOG" || known.iter().any(|k| k == key),
            "compose sets {key}, which lobbylog does not read"
        );
    }
    let ports = lobbylog["ports"]
        .as_vec()
        .expect("lobbylog.ports must be a list");
    for (ip, host_port) in ports.iter().map(published) {
        assert!(
            host_port != "9090" || ip.as_deref() == Some("127.0.0.1"),
            "the admin listener must be published on loopback only: {ports:?}"
        );
    }
    for var in FIXED_BY_COMPOSE {
        assert!(
            environment.contains_key(&Yaml::String(var.into())),
            "compose does not set {var}"
        );
    }
}

#[test]
fn compose_publishes_postgres_on_loopback_only_and_off_the_usual_port() {
    let services = compose_services();
    let ports = match &services["postgres"]["ports"] {
        Yaml::BadValue => return, // not published at all: reachable on the compose network only
        ports => ports.as_vec().expect("postgres.ports must be a list"),
    };
    for (ip, host_port) in ports.iter().map(published) {
        assert_eq!(
            ip.as_deref(),
            Some("127.0.0.1"),
            "Postgres, password `postgres`, must not be published on every interface: {ports:?}"
        );
        assert_ne!(
            host_port, "5432",
            "5432 clashes with a Postgres running on the host: {ports:?}"
        );
    }
}

#[test]
fn compose_passes_every_setting_of_the_env_file_to_lobbylog() {
    let lobbylog = &compose_services()["lobbylog"];
    let files: Vec<(&str, bool)> = match &lobbylog["env_file"] {
        Yaml::String(path) => vec![(path.as_str(), true)],
        Yaml::Array(files) => files
            .iter()
            .map(|f| match f {
                Yaml::String(path) => (path.as_str(), true),
                _ => (
                    f["path"].as_str().expect("env_file entries need a path"),
                    f["required"].as_bool().unwrap_or(true),
                ),
            })
            .collect(),
        _ => panic!("lobbylog needs `env_file: .env`"),
    };
    assert!(
        files
            .iter()
            .any(|(path, _)| ["./.env", ".env"].contains(path)),
        "lobbylog does not read .env: {files:?}"
    );
    assert!(
        files.iter().all(|(_, required)| !required),
        "a missing env file must be fine (the secret may come from the shell): {files:?}"
    );
    // `environment` wins over env_file: anything more there would hide the user's .env.
    let Yaml::Hash(environment) = &lobbylog["environment"] else {
        panic!("lobbylog.environment must be a map");
    };
    for key in environment.keys().filter_map(Yaml::as_str) {
        assert!(
            FIXED_BY_COMPOSE.contains(&key),
            "compose sets {key}, hiding the value in .env"
        );
    }
}

#[test]
fn compose_refuses_to_start_without_a_webhook_secret() {
    let secret = compose_services()["lobbylog"]["environment"]["DAILY_WEBHOOK_SECRET"].clone();
    let secret = secret.as_str().unwrap_or_default();
    // `:?` refuses an empty value as well as a missing one: .env.example's `DAILY_WEBHOOK_SECRET=`.
    assert!(
        secret.starts_with("${DAILY_WEBHOOK_SECRET:?") && secret.ends_with('}'),
        "DAILY_WEBHOOK_SECRET must be required: {secret:?}"
    );
    assert!(
        secret.contains(".env"),
        "the refusal should say where to set it: {secret:?}"
    );
}

#[test]
fn the_image_builds_its_dependencies_before_copying_the_sources() {
    let dockerfile = read("Dockerfile");
    let line_of = |needle: &str| {
        dockerfile
            .lines()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("the Dockerfile has no {needle:?}"))
    };
    let builds: Vec<usize> = dockerfile
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("cargo build --release"))
        .map(|(i, _)| i)
        .collect();
    let copy_sources = line_of("COPY src ");
    assert!(line_of("COPY Cargo.toml Cargo.lock") < copy_sources);
    assert!(
        builds.first().is_some_and(|&b| b < copy_sources),
        "no dependency build before `COPY src`"
    );
    assert!(
        builds.last().is_some_and(|&b| b > copy_sources),
        "no build after `COPY src`"
    );
    let runtime = &dockerfile[dockerfile.rfind("\nFROM ").unwrap()..];
    let user = runtime
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("the runtime image needs a USER");
    assert!(
        !["root", "0"].contains(&user.split(':').next().unwrap().trim()),
        "the runtime image runs as root"
    );
}

#[test]
fn the_build_context_leaves_out_build_output_secrets_and_the_spool() {
    let ignore = read(".dockerignore");
    let patterns: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.trim_start_matches('/').trim_end_matches('/'))
        .collect();
    for path in ["target", ".env", "spool"] {
        assert!(patterns.contains(&path), ".dockerignore lacks {path}");
    }
}
