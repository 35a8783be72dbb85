//! What the checker reports: errors, warnings, and [`Problem`], which also carries syntax
//! errors so that one list of diagnostics covers a whole run.

use std::fmt;

use eclat_syntax::ast::IntType;

use crate::catalog::CType;
use eclat_syntax::{Message, Severity, SyntaxError};
use thiserror::Error;

/// What a name refers to, in messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CalleeKind {
    /// A HIKe program.
    Program,
    /// A chain.
    Chain,
    /// A builtin function (`len`, `ktime_ns`, `random`, `event`).
    Builtin,
}

impl fmt::Display for CalleeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CalleeKind::Program => "program",
            CalleeKind::Chain => "chain",
            CalleeKind::Builtin => "function",
        })
    }
}

/// An error found by the checker (or, for [`CheckError::Internal`], by the validator after
/// code generation).
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum CheckError {
    /// `from X.Y import ...` where `X` is not `programs`, `prog`, `loaders` or `chains`.
    #[error("unknown import source `{source_name}`: expected `programs`, `loaders` or `chains`")]
    UnknownImportSource {
        /// What was written.
        source_name: String,
        /// A close name that exists, for "did you mean".
        suggestion: Option<String>,
    },
    /// `from programs import x` or `from programs.a.b import x`.
    #[error("expected `{source_name}.PACKAGE` with one package name")]
    ImportPath {
        /// `programs`, `loaders` or `chains`.
        source_name: String,
    },
    /// A package that the catalog does not have.
    #[error("unknown package `{package}`")]
    UnknownPackage {
        /// `programs` or `loaders`.
        kind: &'static str,
        /// The package.
        package: String,
        /// Packages that exist, comma-separated, for the hint.
        known: String,
        /// A close name that exists, for "did you mean".
        suggestion: Option<String>,
    },
    /// A program that its package does not have.
    #[error("package `{package}` has no program `{name}`")]
    UnknownProgram {
        /// The package.
        package: String,
        /// The program.
        name: String,
        /// Packages that do have it, for the hint.
        elsewhere: Vec<String>,
        /// A close name that exists, for "did you mean".
        suggestion: Option<String>,
    },
    /// A loader that its package does not have.
    #[error("package `{package}` has no loader `{name}`")]
    UnknownLoader {
        /// The package.
        package: String,
        /// The loader.
        name: String,
        /// A close name that exists, for "did you mean".
        suggestion: Option<String>,
    },
    /// A user package that does not build (only a script that imports it is refused).
    #[error("package `{package}` does not build: {}", reason.lines().next().unwrap_or_default())]
    BrokenPackage {
        /// The package.
        package: String,
        /// Why: the error, with clang's diagnostics (may span lines).
        reason: String,
    },
    /// `from chains.X import ...` where no script `X` is known.
    #[error("unknown script `{script}`")]
    UnknownScript {
        /// The script.
        script: String,
        /// A close name that exists, for "did you mean".
        suggestion: Option<String>,
    },
    /// A chain that a script does not define.
    #[error("script `{script}` has no chain `{name}`")]
    UnknownChainInScript {
        /// The script.
        script: String,
        /// The chain.
        name: String,
        /// The chains the script has, for the hint (empty if unknown).
        available: Vec<String>,
    },
    /// `from chains.X import ...` where `X` exists but its chains cannot be read (a file of C
    /// chains that clang or the chain loader refuses).
    #[error("cannot import chains from `{script}`: {reason}")]
    BrokenScript {
        /// The script.
        script: String,
        /// Why, in one line.
        reason: String,
    },
    /// A call of a name that is no imported program, no chain and no builtin.
    #[error("unknown program or chain `{name}`")]
    UnknownCallee {
        /// The name.
        name: String,
        /// Where it could come from, for the hint.
        hint: Option<String>,
    },
    /// A name in a map value that is no chain.
    #[error("unknown chain `{name}`")]
    UnknownChain {
        /// The name.
        name: String,
        /// A close name that exists, for "did you mean".
        suggestion: Option<String>,
    },
    /// A variable or constant that is never assigned.
    #[error("unknown name `{name}`")]
    UnknownName {
        /// The name.
        name: String,
        /// A close name that exists, for "did you mean".
        suggestion: Option<String>,
    },
    /// A Python or C name that eCLAT does not have (`None`, `null`, `print`).
    #[error("`{name}` does not exist in eCLAT")]
    ForeignName {
        /// The name.
        name: String,
        /// What to use instead, for the hint.
        instead: &'static str,
    },
    /// A variable read on a path where it has not been assigned yet.
    #[error("`{name}` is read before it is assigned")]
    ReadBeforeAssign {
        /// The variable.
        name: String,
    },
    /// `X = ...` for a constant `X` that already has a value, or `X += ...`.
    #[error("cannot assign to constant `{name}`")]
    AssignToConstant {
        /// The constant.
        name: String,
    },
    /// An UPPERCASE name (a constant) given a value that is not known at compile time.
    #[error("the value of constant `{name}` is not known at compile time")]
    NotConstant {
        /// The constant.
        name: String,
    },
    /// A value that must be known at compile time and is not.
    #[error("{what} must be known at compile time")]
    NeedsConstant {
        /// What it is ("a map key", "the step of `range`").
        what: &'static str,
    },
    /// A declared type different from an earlier declaration of the same variable.
    #[error("`{name}` is declared `{ty}` here but `{earlier}` before")]
    TypeConflict {
        /// The variable.
        name: String,
        /// The type declared here.
        ty: IntType,
        /// The type it had.
        earlier: IntType,
    },
    /// A call with the wrong number of arguments.
    #[error("{kind} `{name}` takes {expected} argument{}, found {found}", if *.expected == 1 { "" } else { "s" })]
    ArgCount {
        /// Program, chain or builtin.
        kind: CalleeKind,
        /// Its name.
        name: String,
        /// Parameters.
        expected: usize,
        /// Arguments given.
        found: usize,
    },
    /// A builtin that takes a range of argument counts.
    #[error("`{name}` takes {min} to {max} arguments, found {found}")]
    ArgRange {
        /// The builtin.
        name: &'static str,
        /// Fewest.
        min: usize,
        /// Most.
        max: usize,
        /// Given.
        found: usize,
    },
    /// A chain that calls itself, directly or through other chains.
    #[error("chain `{chain}` calls itself: {cycle} (recursion is not allowed)")]
    Recursion {
        /// The chain.
        chain: String,
        /// The cycle, `a → b → a`.
        cycle: String,
    },
    /// A number a map field does not take, though its C type would hold it.
    #[error("{value} is not {values} (field `{field}` of map `{map}` takes 0 to {max})")]
    OutOfDomain {
        /// The map.
        map: String,
        /// The field.
        field: String,
        /// The value written.
        value: u64,
        /// The largest value it takes.
        max: u64,
        /// What the values are.
        values: String,
    },
    /// A constant that does not fit the type it is stored as.
    #[error("constant {value} does not fit in `{ty}` ({}..={})", IntType::min(*.ty), IntType::max(*.ty))]
    ConstantOverflow {
        /// The value.
        value: i128,
        /// The type.
        ty: IntType,
    },
    /// A constant used as a 64-bit value that is outside both `s64` and `u64`.
    #[error("constant {value} does not fit in 64 bits")]
    ConstantTooWide {
        /// The value.
        value: i128,
    },
    /// A constant expression whose exact value exceeds what the compiler computes with.
    #[error("constant expression overflows")]
    ConstantArithOverflow,
    /// A constant shift amount outside `0..=63`.
    #[error("shift amount {amount} is out of range (0..=63)")]
    ShiftOutOfRange {
        /// The amount.
        amount: i128,
    },
    /// `range` with a step of 0.
    #[error("the step of `range` must not be zero")]
    ZeroStep,
    /// A constant packet offset outside `0..=65535`.
    #[error("packet offset {offset} is out of range (0..=65535)")]
    PacketOffset {
        /// The offset.
        offset: i128,
    },
    /// A chain whose bytecode exceeds the VM's limit.
    #[error("chain `{chain}` compiles to {len} instructions, more than the VM's limit of {max}")]
    ChainTooLong {
        /// The chain.
        chain: String,
        /// Instructions.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A chain that needs more stack than a frame has.
    #[error("chain `{chain}` needs {bytes} bytes of stack, more than the VM's {max} per frame")]
    StackTooBig {
        /// The chain.
        chain: String,
        /// Bytes needed.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// A chain whose deepest call path needs more frames than the VM has.
    #[error("chain `{chain}` nests {depth} chain frames, more than the VM's limit of {max}")]
    CallDepth {
        /// The chain.
        chain: String,
        /// Frames on its deepest path, itself included.
        depth: usize,
        /// The limit.
        max: usize,
    },
    /// A chain with more parameters than argument registers.
    #[error("chain `{chain}` has {count} parameters, more than the VM's limit of {max}")]
    TooManyParams {
        /// The chain.
        chain: String,
        /// Parameters.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// Two imports or definitions of one name.
    #[error("`{name}` is already defined")]
    Duplicate {
        /// The name.
        name: String,
    },
    /// A parameter name used twice.
    #[error("duplicate parameter `{name}`")]
    DuplicateParam {
        /// The name.
        name: String,
    },
    /// `break` or `continue` outside a loop.
    #[error("`{keyword}` outside a loop")]
    OutsideLoop {
        /// `break` or `continue`.
        keyword: &'static str,
    },
    /// A string where a number is expected.
    #[error(
        "a string is not a number: strings are only map keys and values and `attach` arguments"
    )]
    StringValue,
    /// `packet` used as a value, or assigned.
    #[error("`packet` is not a value: read a field (`packet.u8[0]`) or the length (`packet.len`)")]
    PacketValue,
    /// A name that cannot be a variable (a type name, `packet`, a program or chain).
    #[error("`{name}` cannot be used as a variable: it is {what}")]
    ReservedName {
        /// The name.
        name: String,
        /// What it is ("a type", "a program", ...).
        what: &'static str,
    },
    /// A program, chain or loader named where a value is expected.
    #[error("`{name}` is a {what}, not a value")]
    NotAValue {
        /// The name.
        name: String,
        /// Program, chain or loader.
        what: &'static str,
    },
    /// The result of a chain that has no `return VALUE` used as a value (anywhere but an
    /// expression statement).
    #[error("chain `{chain}` returns no value (it has no `return VALUE`)")]
    NoReturnValue {
        /// The chain.
        chain: String,
    },
    /// A loader called like a program.
    #[error("`{name}` is a loader: it cannot be called from a chain")]
    LoaderCall {
        /// The loader.
        name: String,
    },
    /// `X[map] = ...` where `X` is not an imported loader or program.
    #[error("`{name}` is not an imported loader or program, so it has no maps")]
    NotAMapOwner {
        /// The name.
        name: String,
        /// A close name that exists, for "did you mean".
        suggestion: Option<String>,
    },
    /// A map that its loader or program does not have.
    #[error("`{owner}` has no map `{map}`")]
    UnknownMap {
        /// The loader or program.
        owner: String,
        /// The map.
        map: String,
        /// Its maps, for the hint.
        known: String,
        /// A close name that exists, for "did you mean".
        suggestion: Option<String>,
    },
    /// A map key or value with the wrong number of items.
    #[error("map `{map}` expects a {what} of type {layout} with {expected} field{}, found {found}", if *.expected == 1 { "" } else { "s" })]
    MapArity {
        /// The map.
        map: String,
        /// "key" or "value".
        what: &'static str,
        /// The C type of the key or value, with its size (boxed: keeps the error small).
        layout: Box<CType>,
        /// Fields of the map.
        expected: usize,
        /// Items written.
        found: usize,
        /// The struct's fields, for the hint (empty for a scalar key or value).
        fields: String,
    },
    /// A map item of the wrong kind.
    #[error("map `{map}` expects a {what} of type {layout}{}; got {found}", match field { Some(f) => format!(" whose field `{f}` is {expected}"), None => format!(", {expected}") })]
    MapField {
        /// The map.
        map: String,
        /// "key" or "value".
        what: &'static str,
        /// The C type of the key or value, with its size (boxed: keeps the error small).
        layout: Box<CType>,
        /// The struct member, when the key or value is a struct.
        field: Option<String>,
        /// What it takes ("a chain name", "an IPv6 address in quotes").
        expected: String,
        /// What was written ("a number", "a string", "chain `c`").
        found: String,
    },
    /// A string that is not an address.
    #[error("`{text}` is not an {kind} address")]
    BadAddress {
        /// The text.
        text: String,
        /// "IPv4" or "IPv6".
        kind: &'static str,
    },
    /// The same key twice in one map configuration.
    #[error("duplicate key in map `{map}`")]
    DuplicateKey {
        /// The map.
        map: String,
    },
    /// `X.attach(...)` where `X` is not an imported loader.
    #[error("`{name}` is not an imported loader: only loaders are attached")]
    NotALoader {
        /// The name.
        name: String,
        /// A close name that exists, for "did you mean".
        suggestion: Option<String>,
    },
    /// `attach` with other than two string arguments.
    #[error("`attach` takes a device name and a hook, both strings: `attach('eth0', 'xdp')`")]
    AttachArgs,
    /// An unknown hook.
    #[error("unknown hook `{hook}`: expected `xdp`, `tc_ingress` or `tc_egress`")]
    BadHook {
        /// The hook.
        hook: String,
        /// A close name that exists, for "did you mean".
        suggestion: Option<String>,
    },
    /// An error in text that a `-D NAME=VALUE` put in the script.
    #[error("{error} (from `-D {name}={value}`)")]
    FromDefine {
        /// The define's name.
        name: String,
        /// Its value.
        value: String,
        /// The error.
        error: Box<Problem>,
    },
    /// A packet field by name or an address literal (`crate::fields`).
    #[error(transparent)]
    Field(#[from] crate::fields::FieldError),
    /// The generated code failed validation: a compiler bug.
    #[error("internal compiler error in chain `{chain}`: {message}")]
    Internal {
        /// The chain.
        chain: String,
        /// The validator's message.
        message: String,
    },
}

/// A warning: reported, but the script compiles.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum CheckWarning {
    /// Code after a terminal program call (the chain ends there).
    #[error("unreachable code: terminal program `{program}` ends the chain above")]
    UnreachableAfterTerminal {
        /// The program.
        program: String,
    },
    /// Code after `return`, `break` or `continue`, or after an `if` whose every branch ends.
    #[error("unreachable code after {after}")]
    Unreachable {
        /// What ends the flow.
        after: &'static str,
    },
    /// `x / 0` or `x % 0` with a literal zero.
    #[error("division by zero: `x {op} 0` is {result} in eCLAT")]
    DivisionByZero {
        /// The operator.
        op: &'static str,
        /// What the result is.
        result: &'static str,
    },
    /// An expression statement that is not a call.
    #[error("this statement has no effect")]
    NoEffect,
    /// A `while` whose condition is always true and whose body has no `break`: the chain
    /// runs until the VM's execution budget is spent.
    #[error("this loop never ends: its condition is always true and it has no `break`")]
    EndlessLoop {
        /// The VM's default budget, in instructions per packet.
        budget: u32,
    },
}

/// Any problem of a run: syntax error, check error or warning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// From the parser.
    Syntax(SyntaxError),
    /// From the checker.
    Error(CheckError),
    /// A warning.
    Warning(CheckWarning),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Syntax(e) => e.fmt(f),
            Problem::Error(e) => e.fmt(f),
            Problem::Warning(w) => w.fmt(f),
        }
    }
}

impl Message for Problem {
    fn severity(&self) -> Severity {
        match self {
            Problem::Warning(_) => Severity::Warning,
            _ => Severity::Error,
        }
    }

    fn help(&self) -> Option<String> {
        let Some(suggestion) = self.suggestion_help() else {
            return self.own_help();
        };
        // A list of what exists stays useful beside the suggestion.
        let lists = matches!(
            self,
            Problem::Error(CheckError::UnknownPackage { .. } | CheckError::UnknownMap { .. })
        );
        match self.own_help() {
            Some(list) if lists => Some(format!("{suggestion} ({list})")),
            _ => Some(suggestion),
        }
    }
}

impl Problem {
    /// The help of the problem itself, apart from "did you mean".
    fn own_help(&self) -> Option<String> {
        match self {
            Problem::Error(CheckError::UnknownPackage { kind, known, .. }) => {
                Some(format!("{kind} packages: {known}"))
            }
            Problem::Error(CheckError::UnknownProgram {
                name, elsewhere, ..
            }) if !elsewhere.is_empty() => Some(format!(
                "`{name}` is in package{} {}",
                if elsewhere.len() == 1 { "" } else { "s" },
                elsewhere
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Problem::Error(CheckError::UnknownCallee { hint: Some(h), .. }) => Some(h.clone()),
            Problem::Error(CheckError::ForeignName { instead, .. }) => Some((*instead).into()),
            Problem::Error(CheckError::BrokenPackage { package, reason }) => {
                let mut help = format!(
                    "only scripts that import `{package}` are refused; fix it and check again"
                );
                // The rest of clang's output: the source line and caret, further errors.
                for line in reason.lines().skip(1) {
                    help.push_str("\n        ");
                    help.push_str(line);
                }
                Some(help)
            }
            // `DEVNAME`, `COLLECTOR_IFINDEX`: a placeholder the user forgot to define.
            Problem::Error(CheckError::UnknownName { name, .. })
                if name.chars().any(|c| c.is_ascii_uppercase())
                    && !name.chars().any(|c| c.is_ascii_lowercase()) =>
            {
                Some(format!(
                    "if `{name}` is a placeholder, give its value: -D {name}=VALUE"
                ))
            }
            Problem::Error(CheckError::UnknownMap { known, .. }) => Some(format!("maps: {known}")),
            Problem::Error(CheckError::UnknownChainInScript {
                script, available, ..
            }) if !available.is_empty() => Some(format!(
                "`{script}` has chain{} {}",
                if available.len() == 1 { "" } else { "s" },
                available
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Problem::Error(CheckError::MapArity { what, fields, .. }) if !fields.is_empty() => {
                Some(format!("the {what} is written `({fields})`"))
            }
            Problem::Error(CheckError::ConstantOverflow { ty, .. }) if !ty.signed() => Some(
                "declare the variable with a wider or signed type, or write the value in range"
                    .into(),
            ),
            Problem::Error(CheckError::NoReturnValue { chain }) => Some(format!(
                "add a `return VALUE` to `{chain}`, or call it as a statement, without using \
                 its result"
            )),
            Problem::Error(CheckError::Field(e)) => e.help(),
            Problem::Error(CheckError::FromDefine { error, .. }) => error.help(),
            Problem::Error(CheckError::Internal { .. }) => {
                Some("this is a bug of the eCLAT compiler; please report it with the script".into())
            }
            Problem::Syntax(SyntaxError::ExpectedIndentedBlock { .. }) => Some(
                "indent the block deeper than the line that opens it (a tab counts as 4 spaces)"
                    .into(),
            ),
            Problem::Syntax(e) => e.help(),
            Problem::Error(e) => habit_help(e),
            Problem::Warning(CheckWarning::EndlessLoop { budget }) => Some(format!(
                "add a `break` (or `return`) that ends it; a packet that runs out of the \
                 budget of {budget} instructions faults and gets the loader's fail-safe verdict"
            )),
            Problem::Warning(_) => None,
        }
    }

    /// "did you mean `X`?" when the error names something unknown and a close name exists.
    fn suggestion_help(&self) -> Option<String> {
        let Problem::Error(e) = self else {
            return None;
        };
        let suggestion = match e {
            CheckError::UnknownImportSource { suggestion, .. }
            | CheckError::UnknownPackage { suggestion, .. }
            | CheckError::UnknownProgram { suggestion, .. }
            | CheckError::UnknownLoader { suggestion, .. }
            | CheckError::UnknownScript { suggestion, .. }
            | CheckError::UnknownChain { suggestion, .. }
            | CheckError::UnknownName { suggestion, .. }
            | CheckError::NotAMapOwner { suggestion, .. }
            | CheckError::UnknownMap { suggestion, .. }
            | CheckError::NotALoader { suggestion, .. }
            | CheckError::BadHook { suggestion, .. } => suggestion.as_deref(),
            _ => None,
        };
        suggestion.map(crate::suggest::did_you_mean)
    }
}

/// The help of an error that a Python or C habit causes, when no other help applies: an
/// UPPERCASE name is a constant.
fn habit_help(e: &CheckError) -> Option<String> {
    match e {
        CheckError::AssignToConstant { name } => Some(format!(
            "a name with no lowercase letter is a constant, assigned once; for a variable use \
             a lowercase name (`{}`)",
            name.to_ascii_lowercase()
        )),
        CheckError::NotConstant { name } => Some(format!(
            "a name with no lowercase letter is a constant, known at compile time; for a \
             run-time value use a lowercase name (`{}`)",
            name.to_ascii_lowercase()
        )),
        CheckError::StringValue => Some(
            "there is no text at run time; to report values, send numbers with \
             `event(CODE, a, b, c)` (`eclat events` shows them)"
                .into(),
        ),
        _ => None,
    }
}
