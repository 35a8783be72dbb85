//! The front end on its own: tokens, AST and syntax errors, golden and inline.
//!
//! Every `tests/golden/NAME.eclat` is lexed and parsed, and three dumps are compared with the
//! files beside it: `NAME.tokens` (one token per line, with its line and column), `NAME.ast`
//! (the tree, one item or statement per line with its span, expressions as S-expressions)
//! and `NAME.stderr` (the syntax errors as `eclat check` renders them; only for a script that
//! has some). Inline tests go through the same dumps with [`check`].
//!
//! `UPDATE_GOLDEN=1 cargo test -p eclat-syntax --test syntax` rewrites the golden files;
//! review the diff before committing it.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use eclat_syntax::ast::{
    Expr, ExprKind, IntType, Item, LogicOp, Module, PacketWidth, Stmt, StmtKind, Target, UnaryOp,
};
use eclat_syntax::diagnostic::render;
use eclat_syntax::lexer::lex;
use eclat_syntax::token::TokenKind;
use eclat_syntax::{parse, parse_expr, SourceFile, Span};

/// The tokens of `src`, one per line: `LINE:COL KIND`.
fn tokens(src: &str) -> String {
    let file = SourceFile::new("t", src);
    let mut out = String::new();
    for t in lex(src).tokens {
        let (line, col) = file.line_col(t.span.start as usize);
        let text = match &t.kind {
            TokenKind::Name => format!("name {}", t.span.text(src)),
            TokenKind::Int(v) => format!("int {v}"),
            TokenKind::Str(s) => format!("str {s:?}"),
            TokenKind::Newline => "NEWLINE".into(),
            TokenKind::Indent => "INDENT".into(),
            TokenKind::Dedent => "DEDENT".into(),
            TokenKind::Eof => "EOF".into(),
            other => other.symbol().into(),
        };
        writeln!(out, "{line}:{col} {text}").unwrap();
    }
    out
}

/// The tree of `module`: items and statements one per line, indented by nesting, each
/// followed by its span as `@LINE:COL-LINE:COL`.
fn ast(src: &str, module: &Module) -> String {
    let mut d = Dump {
        file: SourceFile::new("t", src),
        out: String::new(),
    };
    for item in &module.items {
        d.item(item);
    }
    d.out
}

struct Dump {
    file: SourceFile,
    out: String,
}

impl Dump {
    fn line(&mut self, depth: usize, text: &str, span: Span) {
        let (l1, c1) = self.file.line_col(span.start as usize);
        let (l2, c2) = self.file.line_col(span.end as usize);
        writeln!(
            self.out,
            "{:indent$}{text} @{l1}:{c1}-{l2}:{c2}",
            "",
            indent = 2 * depth
        )
        .unwrap();
    }

    fn item(&mut self, item: &Item) {
        match item {
            Item::Import(i) => {
                let path: Vec<&str> = i.path.iter().map(|p| p.name.as_str()).collect();
                let names: Vec<&str> = i.names.iter().map(|n| n.name.as_str()).collect();
                let text = format!("import {} ({})", path.join("."), names.join(", "));
                self.line(0, &text, i.span);
            }
            Item::MapConfig(m) => {
                self.line(0, &format!("map {}[{}]", m.owner.name, m.map.name), m.span);
                for e in &m.entries {
                    let text = format!("{} -> {}", exprs(&e.key), exprs(&e.value));
                    self.line(1, &text, e.key_span.to(e.value_span));
                }
            }
            Item::Attach(a) => {
                let text = format!("attach {}{}", a.loader.name, exprs(&a.args));
                self.line(0, &text, a.span);
            }
            Item::Const(c) => {
                let text = format!("const {}{} = {}", c.name.name, ty(c.ty), expr(&c.value));
                self.line(0, &text, c.span);
            }
            Item::Chain(c) => {
                let params: Vec<String> = c
                    .params
                    .iter()
                    .map(|p| format!("{}{}", p.name.name, ty(p.ty)))
                    .collect();
                self.line(
                    0,
                    &format!("def {}({})", c.name.name, params.join(", ")),
                    c.span,
                );
                self.block(1, &c.body);
            }
            Item::Error(span) => self.line(0, "error", *span),
        }
    }

    fn block(&mut self, depth: usize, stmts: &[Stmt]) {
        for s in stmts {
            self.stmt(depth, s);
        }
    }

    fn stmt(&mut self, depth: usize, s: &Stmt) {
        let text = match &s.kind {
            StmtKind::Decl { name, ty, value } => format!(
                "decl {}: {}{}",
                name.name,
                ty.ty,
                value
                    .as_ref()
                    .map_or(String::new(), |v| format!(" = {}", expr(v)))
            ),
            StmtKind::Assign { target, value } => {
                format!("assign {} = {}", self::target(target), expr(value))
            }
            StmtKind::AugAssign {
                target, op, value, ..
            } => format!("assign {} {op}= {}", self::target(target), expr(value)),
            StmtKind::Expr(e) => format!("expr {}", expr(e)),
            StmtKind::If {
                branches,
                else_body,
            } => {
                for (i, (cond, body)) in branches.iter().enumerate() {
                    let word = if i == 0 { "if" } else { "elif" };
                    self.line(depth, &format!("{word} {}", expr(cond)), s.span);
                    self.block(depth + 1, body);
                }
                if let Some(body) = else_body {
                    self.line(depth, "else", s.span);
                    self.block(depth + 1, body);
                }
                return;
            }
            StmtKind::While { cond, body } => {
                self.line(depth, &format!("while {}", expr(cond)), s.span);
                self.block(depth + 1, body);
                return;
            }
            StmtKind::For { var, range, body } => {
                let text = format!("for {} in range{}", var.name, exprs(range));
                self.line(depth, &text, s.span);
                self.block(depth + 1, body);
                return;
            }
            StmtKind::Break => "break".into(),
            StmtKind::Continue => "continue".into(),
            StmtKind::Pass => "pass".into(),
            StmtKind::Return(v) => match v {
                Some(v) => format!("return {}", expr(v)),
                None => "return".into(),
            },
            StmtKind::Error => "error".into(),
        };
        self.line(depth, &text, s.span);
    }
}

fn ty(t: Option<eclat_syntax::ast::TypeName>) -> String {
    t.map_or(String::new(), |t| format!(": {}", t.ty))
}

fn width(w: PacketWidth) -> IntType {
    w.int_type()
}

fn target(t: &Target) -> String {
    match t {
        Target::Name(id) => id.name.clone(),
        Target::Packet {
            width: w, offset, ..
        } => {
            format!("packet.{}[{}]", width(*w), expr(offset))
        }
        Target::Header { layer, field, .. } => format!("packet.{}.{}", layer.name, field.name),
    }
}

/// `(a, b)`
fn exprs(es: &[Expr]) -> String {
    let items: Vec<String> = es.iter().map(expr).collect();
    format!("({})", items.join(", "))
}

/// An expression as an S-expression: `(+ 1 (* 2 3))`, `(call f x)`, `(cmp a < b <= c)`.
fn expr(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Int(v) => v.to_string(),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Str(s) => format!("{s:?}"),
        ExprKind::Name(n) => n.clone(),
        ExprKind::Call { callee, args } => {
            let mut s = format!("(call {}", callee.name);
            for a in args {
                s.push(' ');
                s.push_str(&expr(a));
            }
            s + ")"
        }
        ExprKind::Unary { op, operand } => {
            let op = match op {
                UnaryOp::Neg => "neg",
                UnaryOp::Plus => "plus",
                UnaryOp::Invert => "~",
                UnaryOp::Not => "not",
            };
            format!("({op} {})", expr(operand))
        }
        ExprKind::Binary { op, lhs, rhs, .. } => format!("({op} {} {})", expr(lhs), expr(rhs)),
        ExprKind::Compare { first, rest } => {
            let mut s = format!("(cmp {}", expr(first));
            for (op, e) in rest {
                write!(s, " {op} {}", expr(e)).unwrap();
            }
            s + ")"
        }
        ExprKind::Logic { op, lhs, rhs } => {
            let op = match op {
                LogicOp::And => "and",
                LogicOp::Or => "or",
            };
            format!("({op} {} {})", expr(lhs), expr(rhs))
        }
        ExprKind::PacketField { width: w, offset } => {
            format!("packet.{}[{}]", width(*w), expr(offset))
        }
        ExprKind::PacketLen => "packet.len".into(),
        ExprKind::PacketHeader { layer, field } => format!("packet.{}.{}", layer.name, field.name),
    }
}

/// The syntax errors of `src` as `eclat check` renders them.
fn errors(name: &str, src: &str) -> String {
    render(&SourceFile::new(name, src), &parse(src).errors)
}

/// Compares `actual` with `expected`, a file (rewritten under `UPDATE_GOLDEN=1`) or, inline,
/// the text itself.
#[track_caller]
fn check(expected: Expected<'_>, actual: &str) {
    match expected {
        Expected::Text(want) => assert_eq!(actual, want),
        Expected::File(path) => {
            if std::env::var_os("UPDATE_GOLDEN").is_some() {
                fs::write(path, actual).expect("writable");
                return;
            }
            let want = fs::read_to_string(path).unwrap_or_default();
            assert!(
                want == actual,
                "{} differs (UPDATE_GOLDEN=1 rewrites it):\n--- expected\n{want}--- actual\n{actual}",
                path.display()
            );
        }
    }
}

/// What [`check`] compares with.
enum Expected<'a> {
    /// Inline text.
    Text(&'a str),
    /// A golden file.
    File(&'a Path),
}

fn golden_inputs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("the golden directory")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "eclat"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no golden input in {}", dir.display());
    files
}

#[test]
fn golden_tokens_ast_and_errors() {
    for path in golden_inputs() {
        let src = fs::read_to_string(&path).expect("readable");
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        check(
            Expected::File(&path.with_extension("tokens")),
            &tokens(&src),
        );
        check(
            Expected::File(&path.with_extension("ast")),
            &ast(&src, &parse(&src).module),
        );
        let stderr = path.with_extension("stderr");
        let rendered = errors(&name, &src);
        if rendered.is_empty() {
            if std::env::var_os("UPDATE_GOLDEN").is_some() {
                let _ = fs::remove_file(&stderr);
            }
            assert!(
                !stderr.exists(),
                "{name} has no error but a stale {}",
                stderr.display()
            );
        } else {
            check(Expected::File(&stderr), &rendered);
        }
    }
}

/// An expression's tree, inline.
#[track_caller]
fn check_expr(src: &str, expected: &str) {
    let e = parse_expr(src).unwrap_or_else(|e| panic!("{src}: {e:?}"));
    check(Expected::Text(expected), &expr(&e));
}

#[test]
fn precedence_and_associativity() {
    check_expr("1 + 2 * 3", "(+ 1 (* 2 3))");
    check_expr("1 - 2 - 3", "(- (- 1 2) 3)");
    check_expr("a | b ^ c & d << 1", "(| a (^ b (& c (<< d 1))))");
}

#[test]
fn comparisons_chain_and_logic_is_lowest() {
    check_expr("a < b <= c", "(cmp a < b <= c)");
    check_expr("not a == b or c and d", "(or (not (cmp a == b)) (and c d))");
}

#[test]
fn packet_fields_and_calls() {
    check_expr(
        "packet.u16[12] + packet.len",
        "(+ packet.u16[12] packet.len)",
    );
    check_expr("f(1, g(x), 'eth0')", "(call f 1 (call g x) \"eth0\")");
}

#[test]
fn inline_scripts() {
    let src = "def c(x: u8):\n    if x: return 1\n    return 0\n";
    check(
        Expected::Text(
            "def c(x: u8) @1:1-4:1\n  if x @2:5-2:10\n    return 1 @2:11-2:19\n  return 0 @3:5-3:13\n",
        ),
        &ast(src, &parse(src).module),
    );
    // One missing `)` is one error, and the next line is parsed as a statement of its own.
    let src = "def c():\n    x = (1 +\n    y = 2\n";
    check(
        Expected::Text(
            "t.eclat:2:9: error: `(` is never closed\n  2 |     x = (1 +\n    |         ^\n",
        ),
        &errors("t.eclat", src),
    );
    check(
        Expected::Text("def c() @1:1-4:1\n  error @2:5-2:6\n  assign y = 2 @3:5-3:10\n"),
        &ast(src, &parse(src).module),
    );
}
