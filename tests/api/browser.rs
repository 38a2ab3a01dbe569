//! The dashboard in a real browser: headless Chromium loads it from the running service.

use std::{
    ffi::OsStr,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

use base64::{Engine, engine::general_purpose::STANDARD};
use headless_chrome::{
    Browser, LaunchOptions,
    protocol::cdp::{
        Emulation, Log::LogEntryLevel, Page, Runtime::ConsoleAPICalledEventTypeOption, types::Event,
    },
};

use crate::{
    dashboard::store_random_knocks,
    helpers::{lobbylog, run, spawn_app},
};

/// Chromium's binary: `CHROMIUM` if set, else Debian's.
fn chromium() -> PathBuf {
    let path =
        PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    assert!(
        path.exists(),
        "this test drives headless Chromium, and there is none at {}: install it \
         (`apt-get install -y chromium` on Debian; .ci/run does it) or set CHROMIUM to a \
         Chromium or Chrome binary",
        path.display()
    );
    path
}

/// What the browser saw of one page.
struct Rendered {
    png: Vec<u8>,
    charts: usize,
    /// Charts without a single bar.
    empty_charts: usize,
    bars: usize,
    room_rows: usize,
    /// Rows of "Knocking right now".
    waiting_rows: usize,
    errors: Vec<String>,
    content_width: f64,
    viewport_width: f64,
}

/// Loads `url` in a fresh headless Chromium, on a desktop window or as a phone of 390 x 844.
fn render(url: &str, phone: bool) -> Rendered {
    let profile = tempfile::tempdir().unwrap();
    let args: Vec<&OsStr> = [
        "--disable-gpu",
        "--disable-component-update",
        "--disable-background-networking",
        "--disable-sync",
        "--no-first-run",
    ]
    .iter()
    .map(OsStr::new)
    .collect();
    let options = LaunchOptions {
        path: Some(chromium()),
        headless: true,
        sandbox: false,
        window_size: Some((1280, 900)),
        user_data_dir: Some(profile.path().to_owned()),
        args,
        ..LaunchOptions::default()
    };
    let browser = Browser::new(options).expect("starting Chromium");
    let tab = browser.new_tab().unwrap();
    tab.set_default_timeout(Duration::from_secs(30));
    if phone {
        tab.call_method(Emulation::SetDeviceMetricsOverride {
            width: 390,
            height: 844,
            device_scale_factor: 1.0,
            mobile: true,
            scale: None,
            screen_width: None,
            screen_height: None,
            position_x: None,
            position_y: None,
            dont_set_visible_size: None,
            screen_orientation: None,
            viewport: None,
            display_feature: None,
            device_posture: None,
        })
        .unwrap();
    }
    let errors = Arc::new(Mutex::new(Vec::new()));
    let sink = errors.clone();
    tab.enable_log().unwrap().enable_runtime().unwrap();
    tab.add_event_listener(Arc::new(move |event: &Event| {
        let error = match event {
            Event::LogEntryAdded(e) if e.params.entry.level == LogEntryLevel::Error => {
                Some(e.params.entry.text.clone())
            }
            Event::RuntimeConsoleAPICalled(e)
                if e.params.Type == ConsoleAPICalledEventTypeOption::Error =>
            {
                Some(format!("console.error: {:?}", e.params.args))
            }
            Event::RuntimeExceptionThrown(e) => Some(e.params.exception_details.text.clone()),
            _ => None,
        };
        if let Some(error) = error {
            sink.lock().unwrap().push(error);
        }
    }))
    .unwrap();
    tab.navigate_to(url)
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    let count = |selector: &str| tab.find_elements(selector).map_or(0, |found| found.len());
    let (charts, empty_charts, bars, room_rows, waiting_rows) = (
        count("svg.chart"),
        count("svg.chart:not(:has(rect.bar))"),
        count("svg.chart rect.bar"),
        count("#rooms tbody tr"),
        count("#waiting tbody tr"),
    );
    let metrics = tab.call_method(Page::GetLayoutMetrics(None)).unwrap();
    let content = metrics.css_content_size.clone();
    let png = tab
        .call_method(Page::CaptureScreenshot {
            format: Some(Page::CaptureScreenshotFormatOption::Png),
            quality: None,
            clip: Some(Page::Viewport {
                x: 0.0,
                y: 0.0,
                width: content.width,
                height: content.height,
                scale: 1.0,
            }),
            from_surface: Some(true),
            capture_beyond_viewport: Some(true),
            optimize_for_speed: None,
        })
        .unwrap()
        .data;
    let errors = errors.lock().unwrap().clone();
    Rendered {
        png: STANDARD.decode(png).unwrap(),
        charts,
        empty_charts,
        bars,
        room_rows,
        waiting_rows,
        errors,
        content_width: content.width,
        viewport_width: metrics.css_layout_viewport.client_width as f64,
    }
}

/// Share of the picture's pixels that differ from its top-left pixel (the page background),
/// and how many distinct colours it has.
fn ink(png: &[u8]) -> (f64, usize) {
    let mut reader = png::Decoder::new(std::io::Cursor::new(png))
        .read_info()
        .unwrap();
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buffer).unwrap();
    let step = info.color_type.samples();
    let pixels: Vec<&[u8]> = buffer[..info.buffer_size()].chunks(step).collect();
    let background = pixels[0];
    let inked = pixels.iter().filter(|p| **p != background).count();
    let mut colours: Vec<&[u8]> = pixels.clone();
    colours.sort();
    colours.dedup();
    (inked as f64 / pixels.len() as f64, colours.len())
}

fn save(png: &[u8], path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    eprintln!("screenshot: {}", path.display());
}

#[tokio::test]
async fn the_dashboard_renders_in_chromium_with_its_charts_and_no_console_error() {
    let app = spawn_app().await;
    store_random_knocks(&app, 2024, 300).await;
    let url = format!("{}/dashboard", app.admin_address);
    let page = url.clone();
    let desktop = tokio::task::spawn_blocking(move || render(&page, false))
        .await
        .unwrap();

    let artifact = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/dashboard-screenshot.png");
    save(&desktop.png, &artifact);
    // `LOBBYLOG_SCREENSHOT=docs/dashboard.png cargo test --test api browser` refreshes the docs'.
    if let Ok(path) = std::env::var("LOBBYLOG_SCREENSHOT") {
        save(
            &desktop.png,
            &Path::new(env!("CARGO_MANIFEST_DIR")).join(path),
        );
    }
    assert!(
        desktop.errors.is_empty(),
        "console errors: {:?}",
        desktop.errors
    );
    assert_eq!(desktop.charts, 5, "charts in the DOM");
    assert!(desktop.bars >= 40, "only {} bars drawn", desktop.bars);
    assert_eq!(desktop.room_rows, 4, "rows of the rooms table");
    let (inked, colours) = ink(&desktop.png);
    assert!(
        inked > 0.05 && colours > 16,
        "the screenshot looks blank: {:.1} % inked, {colours} colours",
        inked * 100.0
    );

    let phone = tokio::task::spawn_blocking(move || render(&url, true))
        .await
        .unwrap();
    save(
        &phone.png,
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("target/dashboard-phone.png"),
    );
    assert!(
        phone.errors.is_empty(),
        "console errors: {:?}",
        phone.errors
    );
    assert_eq!(phone.charts, 5);
    assert_eq!(phone.viewport_width, 390.0);
    assert!(
        phone.content_width <= phone.viewport_width,
        "on a phone the page scrolls sideways: {} px of content in {} px",
        phone.content_width,
        phone.viewport_width
    );
}

#[tokio::test]
async fn after_lobbylog_demo_every_chart_of_the_dashboard_has_data() {
    let app = spawn_app().await;
    let demo = run(lobbylog(&app.database_url(), &["demo"]), None).await;
    assert_eq!(demo.code, 0, "{demo:?}");
    let url = format!("{}/dashboard", app.admin_address);
    let page = tokio::task::spawn_blocking(move || render(&url, false))
        .await
        .unwrap();
    assert!(page.errors.is_empty(), "console errors: {:?}", page.errors);
    assert_eq!(page.charts, 5, "charts in the DOM");
    assert_eq!(page.empty_charts, 0, "charts without a bar");
    assert_eq!(page.room_rows, 4, "rows of the rooms table");
    assert!(page.waiting_rows >= 1, "nobody knocking right now");
}
