//! `eclat compile FILE [--emit asm|json] [--time]`: the bytecode of every chain.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use eclat_compiler::{compile, compile_with_defines};
use eclat_syntax::SourceFile;

use eclat_link::project::{c_units, catalog, read, SiblingScripts};

/// What `--emit` prints.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Emit {
    /// Each chain disassembled, program and chain calls by name.
    Asm,
    /// Chains, instructions, relocations, map configuration and attachments, for the runtime.
    Json,
}

/// Compile a script and print its chains' bytecode; diagnostics go to standard error.
///
/// Example: `eclat compile examples/ddos_tb_2_lev.eclat -D COLLECTOR_IFINDEX=6 --emit asm`
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The script.
    file: PathBuf,
    /// Output form.
    #[arg(long, value_enum, default_value = "asm")]
    emit: Emit,
    /// Also compile the script repeatedly and report the time one compilation takes (parse,
    /// check, code generation and validation; the file is read once).
    #[arg(long)]
    time: bool,
    /// A directory of user packages (`DIR/PKG/*.bpf.c`), compiled with clang on first use.
    #[arg(long = "package-dir", value_name = "DIR")]
    package_dirs: Vec<PathBuf>,
    /// Replace the whole word NAME by VALUE before compiling, as `eclat load` and `eclat run`
    /// do: `-D COLLECTOR_IFINDEX=6`.
    #[arg(short = 'D', value_name = "NAME=VALUE")]
    defines: Vec<String>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let defines = match crate::defines::parse(&args.defines) {
        Ok(d) => d,
        Err(e) => return Ok(crate::exit::usage(&e)),
    };
    let raw = read(&args.file)?;
    let catalog = catalog(&args.package_dirs)?;
    let chains = SiblingScripts::beside(&args.file).with_defines(&defines);
    let (src, out) = compile_with_defines(&raw, &defines, &catalog, &chains);
    eprint!("{}", chains.take_reports());
    let file = SourceFile::new(args.file.display().to_string(), src.clone());
    eprint!("{}", out.render(&file));
    let Some(script) = out.script else {
        return Ok(ExitCode::FAILURE);
    };
    if let Err(errors) = c_units(&script, &chains, &catalog) {
        for e in errors {
            eprintln!("{e}");
        }
        return Ok(ExitCode::FAILURE);
    }
    match args.emit {
        Emit::Asm => print!("{}", script.disassemble()),
        Emit::Json => println!(
            "{}",
            serde_json::to_string_pretty(&script.wire()).context("encoding the JSON output")?
        ),
    }
    if args.time {
        report_time(&args.file, &src, &catalog, &chains);
    }
    Ok(ExitCode::SUCCESS)
}

/// Compiles `src` for at least half a second (and at least 20 times) and prints the median,
/// minimum and maximum of one compilation to standard error.
fn report_time(
    path: &std::path::Path,
    src: &str,
    catalog: &eclat_catalog::PackageCatalog,
    chains: &SiblingScripts,
) {
    let mut samples = Vec::new();
    let start = Instant::now();
    while samples.len() < 20 || start.elapsed() < Duration::from_millis(500) {
        let t = Instant::now();
        let out = compile(src, catalog, chains);
        samples.push(t.elapsed());
        std::hint::black_box(out);
    }
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    eprintln!(
        "compile time of {}: median {:.3} ms, min {:.3} ms, max {:.3} ms ({} runs)",
        path.display(),
        ms(samples[samples.len() / 2]),
        ms(samples[0]),
        ms(*samples.last().expect("at least one")),
        samples.len()
    );
}
