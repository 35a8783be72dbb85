//! Generates the gRPC code of `proto/eclat.proto`. The .proto is parsed by `protox` (pure
//! Rust), so no `protoc` is needed on the build machine. Also records the git commit the
//! build is of (`ECLAT_GIT`, for `version`): `unknown` outside a git checkout (a tarball).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    git_commit();
    let proto_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../proto");
    let proto = format!("{proto_dir}/eclat.proto");
    println!("cargo:rerun-if-changed={proto}");
    let descriptors = protox::compile([&proto], [proto_dir])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // `eclat --json` prints the replies as they are.
        .type_attribute(".eclat.v1", "#[derive(serde::Serialize)]")
        .compile_fds(descriptors)?;
    Ok(())
}

/// Sets `ECLAT_GIT` to the short hash of HEAD, and reruns when HEAD moves.
fn git_commit() {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let hash = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    // HEAD, and the branch it names, change on a commit or a checkout (paths as git gives
    // them: a worktree's HEAD is not under the common directory).
    for path in ["HEAD", "packed-refs"] {
        if let Some(p) = git(&["rev-parse", "--path-format=absolute", "--git-path", path]) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        if let Some(p) = git(&["rev-parse", "--path-format=absolute", "--git-path", &branch]) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    println!("cargo:rustc-env=ECLAT_GIT={hash}");
}
