//! Habits from Python and C that eCLAT writes another way, or does not have: what the lexer
//! and the parser recognise (`&&`, `else if`, `x++`, `if x = 5:`, `{` blocks, lists,
//! f-strings, `class`, `import x`, ...) so that the message names the habit and the help line
//! says what to write instead.
//!
//! It only describes them: the lexer and the parser decide where a habit is, and recover as if
//! the eCLAT form had been written wherever that is unambiguous (`&&` is read as `and`,
//! `x++` as `x += 1`), so that one habit costs one error and the rest of the script is still
//! checked. Names that only the checker can judge (`print`, `None`) are hinted there.

use std::fmt;

/// A Python or C habit: what was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Habit {
    /// `&&`
    AndAnd,
    /// `||`
    OrOr,
    /// `!` alone (not `!=`).
    Bang,
    /// `else if`
    ElseIf,
    /// `x++` or `x--`; the name and whether it is `++`.
    IncDec {
        /// The variable, when the statement is `NAME++`.
        name: Option<String>,
        /// `++` (else `--`).
        increment: bool,
    },
    /// `if x = 5:` (also `elif`, `while`).
    AssignInCondition {
        /// The statement whose condition it is.
        keyword: &'static str,
        /// The two sides as written (`x`, `5`), for the fix.
        sides: (String, String),
    },
    /// `if x {`: a block in braces.
    BraceBlock,
    /// `for (i = 0; i < n; i++)`.
    CFor,
    /// `[1, 2]` as a value.
    List,
    /// `{...}` as a value in a chain or a constant.
    Dict,
    /// `f'...'` (also `b'...'`, `r'...'`).
    PrefixedString {
        /// The prefix as written.
        prefix: String,
    },
    /// `import x` at the start of a statement.
    ImportModule,
    /// `from x import *`.
    ImportStar,
    /// `def c(a=1):`.
    DefaultArgument,
    /// `lambda x: ...`.
    Lambda,
    /// `// comment`.
    CComment,
    /// A statement keyword of Python or C that eCLAT does not have (`class`, `try`, `with`,
    /// `raise`, `switch`, ...).
    Statement {
        /// The keyword.
        keyword: String,
    },
}

/// Statement keywords of Python and C that eCLAT does not have, recognised at the start of a
/// statement when what follows cannot be eCLAT (a name, a string, or `:` ending the line).
pub const FOREIGN_STATEMENTS: &[&str] = &[
    "class", "try", "except", "finally", "with", "raise", "assert", "global", "nonlocal", "del",
    "switch", "case", "do", "async", "yield",
];

impl Habit {
    /// What to write instead, for the `= help:` line.
    pub fn help(&self) -> String {
        match self {
            Habit::AndAnd => "write `and`: `if a == 1 and b == 2:`".into(),
            Habit::OrOr => "write `or`: `if a == 1 or b == 2:`".into(),
            Habit::Bang => "write `not`: `if not x:` (`!=` is fine)".into(),
            Habit::ElseIf => "write `elif CONDITION:`".into(),
            Habit::IncDec { name, increment } => {
                let name = name.as_deref().unwrap_or("x");
                let op = if *increment { "+=" } else { "-=" };
                format!("write `{name} {op} 1`")
            }
            Habit::AssignInCondition {
                keyword,
                sides: (left, right),
            } => format!("compare with `==`: `{keyword} {left} == {right}:`"),
            Habit::BraceBlock => "end the line with `:` and indent the block's statements on the \
                                  next lines, as in Python"
                .into(),
            Habit::CFor => {
                "write `for i in range(STOP):` or `for i in range(START, STOP, STEP):`, \
                            or a `while` loop"
                    .into()
            }
            Habit::List => "a chain computes with integers only: use one variable per value, or \
                            keep a table in a program's map"
                .into(),
            Habit::Dict => "`{KEY: VALUE}` only configures a map at the top level \
                            (`OWNER[MAP] = {(0): (1)}`); in a chain, keep a table in a program's \
                            map"
            .into(),
            Habit::PrefixedString { .. } => "a chain has no text: send numbers to user space \
                                             with `event(CODE, a, b, c)` (`eclat events` shows \
                                             them)"
                .into(),
            Habit::ImportModule => "import names from a package: `from programs.PKG import NAME` \
                                    (also `loaders.PKG`, `chains.SCRIPT`)"
                .into(),
            Habit::ImportStar => "name what you import: `from programs.PKG import a, b`".into(),
            Habit::DefaultArgument => "every call passes every argument; a default can be a \
                                       module constant (`LIMIT = 10`) that callers pass"
                .into(),
            Habit::Lambda => "define a chain with `def NAME(PARAMS):` and call it".into(),
            Habit::CComment => "start a comment with `#`".into(),
            Habit::Statement { keyword } => statement_help(keyword).into(),
        }
    }
}

fn statement_help(keyword: &str) -> &'static str {
    match keyword {
        "class" => {
            "a script defines chains (`def NAME(PARAMS):`) and module constants (`NAME = VALUE`)"
        }
        "try" | "except" | "finally" => {
            "nothing raises in a chain: test a program's result with `if`; a fault ends the \
             packet with the loader's fail-safe verdict"
        }
        "with" => "a chain opens nothing: call programs and builtins directly",
        "raise" | "assert" => {
            "end the packet with a terminal program (`hike_drop()`, `hike_pass()`) or `return`"
        }
        "global" | "nonlocal" => {
            "module constants (UPPERCASE) are visible in every chain; state that lasts across \
             packets lives in a program's map"
        }
        "del" => "a variable lives until its chain returns",
        "switch" | "case" => "write `if`/`elif`/`else`",
        "do" => "write `while CONDITION:`",
        _ => "chains run to completion on one packet: there is nothing to wait for",
    }
}

impl fmt::Display for Habit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Habit::AndAnd => f.write_str("`&&` is not an eCLAT operator"),
            Habit::OrOr => f.write_str("`||` is not an eCLAT operator"),
            Habit::Bang => f.write_str("`!` is not an eCLAT operator"),
            Habit::ElseIf => f.write_str("`else if` is written `elif` in eCLAT"),
            Habit::IncDec { increment, .. } => write!(
                f,
                "`{}` is not an eCLAT operator",
                if *increment { "++" } else { "--" }
            ),
            Habit::AssignInCondition { keyword, .. } => {
                write!(
                    f,
                    "`=` assigns: the condition of `{keyword}` compares with `==`"
                )
            }
            Habit::BraceBlock => f.write_str("blocks are not written with `{ }` in eCLAT"),
            Habit::CFor => f.write_str("C's `for (INIT; CONDITION; STEP)` is not available"),
            Habit::List => f.write_str("lists are not available in eCLAT"),
            Habit::Dict => f.write_str("dictionaries are not values in eCLAT"),
            Habit::PrefixedString { prefix } => {
                write!(f, "`{prefix}'...'` strings are not available in eCLAT")
            }
            Habit::ImportModule => f.write_str("`import MODULE` is not available in eCLAT"),
            Habit::ImportStar => f.write_str("`import *` is not available in eCLAT"),
            Habit::DefaultArgument => f.write_str("parameters have no default values in eCLAT"),
            Habit::Lambda => f.write_str("`lambda` is not available in eCLAT"),
            Habit::CComment => f.write_str("`//` does not start a comment in eCLAT"),
            Habit::Statement { keyword } => write!(f, "`{keyword}` is not available in eCLAT"),
        }
    }
}
