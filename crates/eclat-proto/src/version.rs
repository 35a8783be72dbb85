//! What a build is: the package version, the git commit it was built from (`unknown` for a
//! build outside a git checkout, such as a source tarball) and the HIKe VM ABI it speaks; and
//! how a client tells the daemon its ABI. It is not the check itself (eclatd's `abi_check`).
//!
//! A client announces its ABI in its `user-agent` as the token `eclat-abi/N`
//! ([`connect`](crate::connect) and [`connect_tls`](crate::connect_tls) set it on every
//! request), so that every client of this crate sends it whatever its tonic client type is.
//! A client without the token (grpcurl, Python, an older eclat) is not refused.

/// The package version, e.g. `0.1.0`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git commit of the build (12 hex digits), or `unknown`.
pub const GIT: &str = env!("ECLAT_GIT");
/// The HIKe VM ABI version of this build (`HIKE_ABI_VERSION` in `abi.h`).
pub const ABI: u32 = hike_isa::abi::ABI_VERSION;
/// The `user-agent` token that carries a client's ABI version.
pub const ABI_TOKEN: &str = "eclat-abi/";

/// `0.1.0 (git 0123456789ab, VM ABI 1)`: what `--version` and `eclat version` print.
pub fn line() -> &'static str {
    static LINE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    LINE.get_or_init(|| format!("{VERSION} (git {GIT}, VM ABI {ABI})"))
}

/// The user agent a client of this build sends.
pub fn user_agent() -> String {
    format!("eclat/{VERSION} {ABI_TOKEN}{ABI}")
}

/// The ABI version announced in a `user-agent` value, if it has the token; `Err` with the
/// token's text if it has one that is not a number.
pub fn abi_of_user_agent(agent: &str) -> Option<Result<u32, String>> {
    let token = agent
        .split_whitespace()
        .find_map(|t| t.strip_prefix(ABI_TOKEN))?;
    Some(token.parse().map_err(|_| token.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_abi_is_found_in_a_user_agent_among_other_tokens() {
        assert_eq!(abi_of_user_agent(&user_agent()), Some(Ok(ABI)));
        // tonic appends its own token after ours.
        assert_eq!(
            abi_of_user_agent("eclat/0.1.0 eclat-abi/7 tonic/0.14.9"),
            Some(Ok(7))
        );
        assert_eq!(abi_of_user_agent("grpc-python/1.51.1"), None);
        assert_eq!(abi_of_user_agent("eclat-abi/x"), Some(Err("x".to_owned())));
    }

    #[test]
    fn the_version_line_names_the_commit_and_the_abi() {
        let line = line();
        assert!(line.starts_with(VERSION), "{line}");
        assert!(line.contains(&format!("VM ABI {ABI}")), "{line}");
        assert!(
            GIT == "unknown" || GIT.chars().all(|c| c.is_ascii_hexdigit()),
            "{GIT}"
        );
    }
}
