//! The spool on a real full disk, a small tmpfs (mounting one needs root, as CI has): refused
//! writes leave no segment files behind, and the spool takes events again once there is room.

use std::{
    fs,
    io::{ErrorKind, Write},
    path::Path,
    process::Command,
};

use crate::{
    daily,
    helpers::{TestApp, count_events, eventually, spawn_app_behind_proxy},
};

/// A tmpfs mounted on a temporary directory, unmounted when dropped.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match mounted {
            Ok(out) if out.status.success() => Self(dir),
            Ok(out) => panic!(
                "this test needs a real full disk: mounting a {size} tmpfs failed (run the tests \
                 as root): {}",
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => panic!("this test needs a real full disk: `mount` cannot run: {e}"),
        }
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazily: the app's spool may still hold a file open in it.
        let _ = Command::new("umount").arg("-l").arg(self.path()).status();
    }
}

/// Writes `path` until the disk is full.
fn fill(path: &Path) {
    let mut file = fs::File::create(path).unwrap();
    let chunk = [0u8; 4096];
    let full = loop {
        if let Err(e) = file.write_all(&chunk).and_then(|()| file.sync_data()) {
            break e;
        }
    };
    assert_eq!(full.kind(), ErrorKind::StorageFull, "{full}");
}

async fn post(app: &TestApp, i: usize) -> u16 {
    let session = format!("f011{i:04}-0000-4000-8000-000000000000");
    let body = daily::waiting_joined("full", &session, 1.7e9 + i as f64).to_string();
    app.post_signed(body.as_bytes()).await.status().as_u16()
}

/// Each segment file of `dir` with its number of lines (the header is one).
fn segments(dir: &Path) -> Vec<(String, usize)> {
    let mut list: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "spool"))
        .map(|p| {
            let lines = fs::read(&p)
                .unwrap()
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            (p.file_name().unwrap().to_string_lossy().into_owned(), lines)
        })
        .collect();
    list.sort();
    list
}

#[tokio::test]
async fn writes_refused_on_a_full_disk_leave_no_segment_behind() {
    let disk = Tmpfs::mount("64k");
    let (dir, filler) = (disk.path().join("spool"), disk.path().join("filler"));
    let (app, proxy, direct) = spawn_app_behind_proxy(|s| s.spool_dir = dir.clone()).await;
    proxy.cut();
    fill(&filler);
    for i in 0..20 {
        assert_eq!(post(&app, i).await, 503, "request {i} on a full disk");
    }
    let left = segments(&dir);
    assert!(left.is_empty(), "files left by 20 refused writes: {left:?}");
    assert!(app.spool.is_empty(), "an empty spool counts a segment");

    fs::remove_file(&filler).unwrap();
    assert_eq!(post(&app, 20).await, 200, "the spool takes events again");
    fill(&filler);
    // The segment's last page still has room for a few events.
    let mut accepted = 1;
    while post(&app, 20 + accepted).await == 200 {
        accepted += 1;
        assert!(accepted < 100, "the disk never filled up");
    }
    for i in 0..20 {
        assert_eq!(post(&app, 200 + i).await, 503, "request {i} on a full disk");
    }
    let left = segments(&dir);
    assert_eq!(left.len(), 1, "files left by 21 refused writes: {left:?}");
    assert_eq!(
        left[0].1,
        accepted + 1,
        "its header and every event accepted"
    );
    assert_eq!(app.spooled(), accepted as u64);
    // Not corrupt: every line is whole and each body is one of the events acknowledged.
    let segment = lobbylog::sources::spool::read_segment(&dir.join(&left[0].0)).unwrap();
    assert_eq!(segment.records, accepted as u64);
    assert_eq!(segment.bodies.len(), accepted);
    for (i, (_, body)) in segment.bodies.iter().enumerate() {
        let event: serde_json::Value = serde_json::from_slice(body).unwrap();
        let session = format!("f011{:04}-0000-4000-8000-000000000000", 20 + i);
        assert_eq!(event["payload"]["session_id"], session.as_str());
    }

    fs::remove_file(&filler).unwrap();
    proxy.restore();
    let all = accepted as i64;
    assert!(eventually(20, || async { count_events(&direct).await == all }).await);
    assert!(eventually(5, || async { app.spooled() == 0 }).await);
}
