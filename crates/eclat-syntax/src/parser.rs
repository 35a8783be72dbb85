//! The parser: tokens → [`Module`], a recursive descent over `grammar.md`.
//!
//! Every function is named after the non-terminal of `grammar.md` it parses. Errors are
//! recorded and parsing goes on: a statement that does not parse becomes
//! [`StmtKind::Error`] (its line, and the block it opens, are skipped), so that one run reports
//! several errors and the checker still sees the rest of the script.

use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::error::SyntaxError;
use crate::habit::{Habit, FOREIGN_STATEMENTS};
use crate::lexer::lex;
use crate::span::Span;
use crate::token::{AugOp, Token, TokenKind};

/// A parsed script and every syntax error found in it.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    /// The tree; parts that did not parse are `Error` nodes.
    pub module: Module,
    /// Lexical and syntax errors in source order.
    pub errors: Vec<Diagnostic<SyntaxError>>,
}

/// Parses a whole script.
///
/// ```
/// let parsed = eclat_syntax::parse("def c():\n    x = 1 + 2 * 3\n");
/// assert!(parsed.errors.is_empty());
/// assert_eq!(parsed.module.items.len(), 1);
/// ```
pub fn parse(src: &str) -> Parsed {
    let mut lexed = lex(src);
    lexed.errors.truncate(MAX_ERRORS);
    let lexical = lexed.errors.len();
    let mut p = Parser {
        src,
        tokens: lexed.tokens,
        pos: 0,
        errors: lexed.errors,
        depth: 0,
    };
    let module = p.module();
    let mut errors = p.errors;
    // A lexical error (a skipped character, a bad number) makes the parser stumble on the
    // same line: report the lexical error only.
    // Line numbers by binary search over the line starts: garbage input can carry a thousand
    // errors over megabytes of text.
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(src.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let line_of = |pos: usize| line_starts.partition_point(|&start| start <= pos);
    let bad_lines: std::collections::HashSet<usize> = errors[..lexical]
        .iter()
        .filter(|d| !matches!(d.kind, SyntaxError::UnclosedBracket { .. }))
        .map(|d| line_of(d.span.start as usize))
        .collect();
    let mut index = 0;
    errors.retain(|d| {
        index += 1;
        index <= lexical
            || !(matches!(d.kind, SyntaxError::Expected { .. })
                && bad_lines.contains(&line_of(d.span.start as usize)))
    });
    // A bracket never closed also makes its line end early: report the bracket only.
    let unclosed: Vec<(usize, usize)> = errors
        .iter()
        .filter(|d| matches!(d.kind, SyntaxError::UnclosedBracket { .. }))
        .map(|d| {
            let start = d.span.start as usize;
            let end = src[start..].find('\n').map_or(src.len(), |i| start + i);
            (start, end)
        })
        .collect();
    errors.retain(|d| {
        !(matches!(d.kind, SyntaxError::Expected { .. })
            && unclosed
                .iter()
                .any(|&(a, b)| (a..=b).contains(&(d.span.start as usize))))
    });
    errors.sort_by_key(|d| d.span.start);
    Parsed { module, errors }
}

/// Parses one expression (for tests and tools), or returns its syntax errors.
pub fn parse_expr(src: &str) -> Result<Expr, Vec<Diagnostic<SyntaxError>>> {
    let lexed = lex(src);
    let mut p = Parser {
        src,
        tokens: lexed.tokens,
        pos: 0,
        errors: lexed.errors,
        depth: 0,
    };
    let e = p.expr();
    if !matches!(p.peek(), TokenKind::Newline | TokenKind::Eof) {
        let _ = p.expected::<()>("end of the expression");
    }
    match e {
        Ok(e) if p.errors.is_empty() => Ok(e),
        _ => Err(p.errors),
    }
}

/// The error is already recorded.
type PResult<T> = Result<T, ()>;

/// How deep the syntax tree may get: nested blocks, brackets and unary operators, and the
/// operators of one chain like `a + b + c` (each makes the tree one level deeper). The later
/// passes walk the tree recursively, so this bound is what keeps any input, however
/// pathological, from exhausting the stack.
pub const MAX_DEPTH: u32 = 200;

/// What one nesting level (a block, bracket or unary operator) counts towards [`MAX_DEPTH`]:
/// each costs a dozen stack frames of recursive descent, an operator of a chain one, so at most
/// 50 levels nest. (Python itself refuses 200 nested parentheses and 20 nested blocks.)
pub const NEST_COST: u32 = 4;

/// Syntax errors after which the parser stops: past this many, the input is not a script with
/// mistakes but something else, and more messages help no one.
pub const MAX_ERRORS: usize = 1000;

struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    errors: Vec<Diagnostic<SyntaxError>>,
    /// Current depth of the tree being built (see [`MAX_DEPTH`]).
    depth: u32,
}

fn is_type_name(name: &str) -> bool {
    IntType::from_name(name).is_some()
}

impl Parser<'_> {
    // ---- token access -------------------------------------------------------------------

    fn peek(&self) -> &TokenKind {
        &self.tokens[self.pos].kind
    }

    fn peek_at(&self, n: usize) -> &TokenKind {
        let i = (self.pos + n).min(self.tokens.len() - 1);
        &self.tokens[i].kind
    }

    fn span(&self) -> Span {
        self.tokens[self.pos].span
    }

    fn text_at(&self, n: usize) -> &str {
        let i = (self.pos + n).min(self.tokens.len() - 1);
        self.tokens[i].span.text(self.src)
    }

    /// End of the last consumed token.
    fn prev_end(&self) -> u32 {
        if self.pos == 0 {
            0
        } else {
            self.tokens[self.pos - 1].span.end
        }
    }

    fn bump(&mut self) -> Token {
        let t = self.tokens[self.pos].clone();
        if t.kind != TokenKind::Eof {
            self.pos += 1;
        }
        t
    }

    fn at(&self, kind: &TokenKind) -> bool {
        self.peek() == kind
    }

    fn eat(&mut self, kind: &TokenKind) -> bool {
        if self.at(kind) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn error(&mut self, error: SyntaxError, span: Span) {
        self.errors.push(Diagnostic::new(error, span));
    }

    /// `cost` levels deeper in the tree; an error past [`MAX_DEPTH`].
    fn deeper_by(&mut self, cost: u32) -> PResult<()> {
        if self.depth + cost > MAX_DEPTH {
            let span = self.span();
            self.error(
                SyntaxError::TooDeep {
                    limit: MAX_DEPTH / NEST_COST,
                },
                span,
            );
            return Err(());
        }
        self.depth += cost;
        Ok(())
    }

    /// One operator of a chain like `a + b + c`: one level deeper.
    fn deeper(&mut self) -> PResult<()> {
        self.deeper_by(1)
    }

    /// Runs `f` one nesting level (a block, bracket or unary operator) deeper and restores the
    /// depth afterwards, error or not.
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        let depth = self.depth;
        let result = self.deeper_by(NEST_COST).and_then(|()| f(self));
        self.depth = depth;
        result
    }

    fn expected<T>(&mut self, expected: &str) -> PResult<T> {
        let found = self.peek().describe();
        let span = self.span();
        self.error(
            SyntaxError::Expected {
                expected: expected.to_string(),
                found,
            },
            span,
        );
        Err(())
    }

    /// Reports a Python or C habit at the current token.
    fn habit<T>(&mut self, habit: Habit) -> PResult<T> {
        let span = self.span();
        self.error(SyntaxError::Habit(habit), span);
        Err(())
    }

    /// The `:` that opens a block; a `{` there is C's block, reported as such.
    fn block_colon(&mut self) -> PResult<()> {
        if self.at(&TokenKind::LBrace) {
            return self.habit(Habit::BraceBlock);
        }
        self.expect(&TokenKind::Colon).map(drop)
    }

    /// The condition of `keyword` (`if`, `elif`, `while`). `if x = 5:` is reported and read
    /// as `if x == 5:`.
    fn condition(&mut self, keyword: &'static str) -> PResult<Expr> {
        let cond = self.expr()?;
        if !self.at(&TokenKind::Assign) {
            return Ok(cond);
        }
        let span = self.bump().span;
        let rhs = self.expr();
        let text = |e: &Expr| e.span.text(self.src).to_owned();
        let sides = (
            text(&cond),
            rhs.as_ref().map_or_else(|()| "VALUE".to_owned(), text),
        );
        self.error(
            SyntaxError::Habit(Habit::AssignInCondition { keyword, sides }),
            span,
        );
        let rhs = rhs?;
        Ok(Expr {
            span: cond.span.to(rhs.span),
            kind: ExprKind::Compare {
                first: Box::new(cond),
                rest: vec![(CmpOp::Eq, rhs)],
            },
        })
    }

    /// A statement of Python or C that eCLAT does not have (`import x`, `class`, `try`, ...),
    /// if one starts here: reported (the caller skips its line and block). An `except` or
    /// `finally` right after a reported `try` is not reported again.
    fn foreign_statement(&mut self) -> bool {
        if self.at(&TokenKind::Import) {
            let _: PResult<()> = self.habit(Habit::ImportModule);
            return true;
        }
        if !self.at(&TokenKind::Name) || !FOREIGN_STATEMENTS.contains(&self.text_at(0)) {
            return false;
        }
        let statement_like = match self.peek_at(1) {
            TokenKind::Name | TokenKind::Str(_) | TokenKind::Int(_) => true,
            TokenKind::Colon => matches!(self.peek_at(2), TokenKind::Newline | TokenKind::Eof),
            _ => false,
        };
        if !statement_like {
            return false;
        }
        let keyword = self.text_at(0).to_string();
        let after_try = matches!(
            self.errors.last(),
            Some(Diagnostic { kind: SyntaxError::Habit(Habit::Statement { keyword: k }), .. })
                if k == "try" || k == "except"
        );
        if matches!(keyword.as_str(), "except" | "finally") && after_try {
            return true;
        }
        let _: PResult<()> = self.habit(Habit::Statement { keyword });
        true
    }

    fn expect(&mut self, kind: &TokenKind) -> PResult<Token> {
        if self.at(kind) {
            Ok(self.bump())
        } else {
            self.expected(&kind.describe())
        }
    }

    fn expect_name(&mut self, what: &str) -> PResult<Ident> {
        if self.at(&TokenKind::Name) {
            let t = self.bump();
            Ok(Ident {
                name: t.span.text(self.src).to_string(),
                span: t.span,
            })
        } else {
            self.expected(what)
        }
    }

    fn expect_newline(&mut self) -> PResult<()> {
        if self.eat(&TokenKind::Newline) || self.at(&TokenKind::Eof) {
            Ok(())
        } else {
            self.expected("end of line")
        }
    }

    /// Skips the rest of the logical line, and the block it opens if any.
    fn recover_line(&mut self) {
        while !matches!(self.peek(), TokenKind::Newline | TokenKind::Eof) {
            self.bump();
        }
        self.eat(&TokenKind::Newline);
        if self.at(&TokenKind::Indent) {
            self.skip_block();
        }
    }

    /// Skips a balanced `INDENT ... DEDENT`.
    fn skip_block(&mut self) {
        let mut depth = 0usize;
        loop {
            match self.peek() {
                TokenKind::Indent => depth += 1,
                TokenKind::Dedent => {
                    depth -= 1;
                    if depth == 0 {
                        self.bump();
                        return;
                    }
                }
                TokenKind::Eof => return,
                _ => {}
            }
            self.bump();
        }
    }

    // ---- script ---------------------------------------------------------------------------

    fn module(&mut self) -> Module {
        let mut items = Vec::new();
        loop {
            if self.errors.len() >= MAX_ERRORS {
                // Garbage input: what follows would only add noise (and time).
                break;
            }
            match self.peek() {
                TokenKind::Eof => break,
                TokenKind::Newline => {
                    self.bump();
                }
                TokenKind::Indent => {
                    let span = self.span();
                    self.error(SyntaxError::UnexpectedIndent, span);
                    self.skip_block();
                }
                TokenKind::Dedent => {
                    self.bump();
                }
                _ => self.toplevel(&mut items),
            }
        }
        Module { items }
    }

    fn toplevel(&mut self, items: &mut Vec<Item>) {
        let start = self.span();
        if self.foreign_statement() {
            self.recover_line();
            items.push(Item::Error(start));
            return;
        }
        match self.peek() {
            TokenKind::From => match self.import_stmt() {
                Ok(i) => items.push(Item::Import(i)),
                Err(()) => {
                    self.recover_line();
                    items.push(Item::Error(start));
                }
            },
            TokenKind::Def => match self.chain_def() {
                Ok(c) => items.push(Item::Chain(c)),
                Err(()) => {
                    self.recover_line();
                    items.push(Item::Error(start));
                }
            },
            _ => {
                let result = (|| -> PResult<()> {
                    loop {
                        let item = self.toplevel_simple()?;
                        items.push(item);
                        if !self.eat(&TokenKind::Semi) {
                            break;
                        }
                        if matches!(self.peek(), TokenKind::Newline | TokenKind::Eof) {
                            break;
                        }
                    }
                    self.expect_newline()
                })();
                if result.is_err() {
                    self.recover_line();
                    items.push(Item::Error(start));
                }
            }
        }
    }

    fn toplevel_simple(&mut self) -> PResult<Item> {
        const WHAT: &str =
            "an import, `def`, a map configuration, `LOADER.attach(...)` or a constant";
        if !self.at(&TokenKind::Name) {
            return self.expected(WHAT);
        }
        match self.peek_at(1) {
            TokenKind::LBracket => self.map_config().map(Item::MapConfig),
            TokenKind::Dot => self.attach_stmt().map(Item::Attach),
            TokenKind::Assign | TokenKind::Colon => self.const_def().map(Item::Const),
            _ => {
                self.bump();
                self.expected("`[`, `.attach(...)` or `=` after a name at the top level")
            }
        }
    }

    fn import_stmt(&mut self) -> PResult<Import> {
        let start = self.expect(&TokenKind::From)?.span;
        let path = self.dotted_name()?;
        self.expect(&TokenKind::Import)?;
        let names = self.import_names()?;
        let span = start.to(Span::at(self.prev_end() as usize));
        self.expect_newline()?;
        Ok(Import { path, names, span })
    }

    fn dotted_name(&mut self) -> PResult<Vec<Ident>> {
        let mut path = vec![self.expect_name("a package path such as `programs.net`")?];
        while self.eat(&TokenKind::Dot) {
            path.push(self.expect_name("a name after `.`")?);
        }
        Ok(path)
    }

    fn import_names(&mut self) -> PResult<Vec<Ident>> {
        if self.eat(&TokenKind::LParen) {
            let names = self.name_list()?;
            self.expect(&TokenKind::RParen)?;
            Ok(names)
        } else {
            self.name_list()
        }
    }

    fn name_list(&mut self) -> PResult<Vec<Ident>> {
        if self.at(&TokenKind::Star) {
            return self.habit(Habit::ImportStar);
        }
        let mut names = vec![self.expect_name("a name to import")?];
        while self.eat(&TokenKind::Comma) {
            if !self.at(&TokenKind::Name) {
                break;
            }
            names.push(self.expect_name("a name to import")?);
        }
        Ok(names)
    }

    fn map_config(&mut self) -> PResult<MapConfig> {
        let owner = self.expect_name("a loader or program")?;
        self.expect(&TokenKind::LBracket)?;
        let map = self.expect_name("a map name")?;
        self.expect(&TokenKind::RBracket)?;
        self.expect(&TokenKind::Assign)?;
        let entries = self.map_dict()?;
        let span = owner.span.to(Span::at(self.prev_end() as usize));
        Ok(MapConfig {
            owner,
            map,
            entries,
            span,
        })
    }

    fn map_dict(&mut self) -> PResult<Vec<MapEntry>> {
        self.bracketed_list(TokenKind::LBrace, TokenKind::RBrace, Self::map_entry)
    }

    /// `open item, item, … close`: possibly empty, a trailing comma allowed.
    fn bracketed_list<T>(
        &mut self,
        open: TokenKind,
        close: TokenKind,
        mut item: impl FnMut(&mut Self) -> PResult<T>,
    ) -> PResult<Vec<T>> {
        self.expect(&open)?;
        let mut items = Vec::new();
        while !self.at(&close) {
            items.push(item(self)?);
            if !self.eat(&TokenKind::Comma) {
                break;
            }
        }
        self.expect(&close)?;
        Ok(items)
    }

    fn map_entry(&mut self) -> PResult<MapEntry> {
        let (key, key_span) = self.map_tuple()?;
        self.expect(&TokenKind::Colon)?;
        let (value, value_span) = self.map_tuple()?;
        Ok(MapEntry {
            key,
            key_span,
            value,
            value_span,
        })
    }

    fn map_tuple(&mut self) -> PResult<(Vec<Expr>, Span)> {
        let start = self.span();
        if self.eat(&TokenKind::LParen) {
            let mut items = vec![self.expr()?];
            while self.eat(&TokenKind::Comma) {
                if self.at(&TokenKind::RParen) {
                    break;
                }
                items.push(self.expr()?);
            }
            self.expect(&TokenKind::RParen)?;
            Ok((items, start.to(Span::at(self.prev_end() as usize))))
        } else {
            let e = self.expr()?;
            let span = e.span;
            Ok((vec![e], span))
        }
    }

    fn attach_stmt(&mut self) -> PResult<Attach> {
        let loader = self.expect_name("a loader")?;
        self.expect(&TokenKind::Dot)?;
        if !(self.at(&TokenKind::Name) && self.text_at(0) == "attach") {
            return self.expected("`attach`");
        }
        self.bump();
        let args = self.call_args()?;
        let span = loader.span.to(Span::at(self.prev_end() as usize));
        Ok(Attach { loader, args, span })
    }

    fn const_def(&mut self) -> PResult<ConstDef> {
        let start = self.span();
        let (name, ty) = if is_type_name(self.text_at(0)) && self.peek_at(1) == &TokenKind::Colon {
            let ty = self.type_name()?;
            self.bump();
            (self.expect_name("a constant name")?, Some(ty))
        } else {
            let name = self.expect_name("a constant name")?;
            let ty = if self.eat(&TokenKind::Colon) {
                Some(self.type_name()?)
            } else {
                None
            };
            (name, ty)
        };
        self.expect(&TokenKind::Assign)?;
        let value = self.expr()?;
        let span = start.to(value.span);
        Ok(ConstDef {
            name,
            ty,
            value,
            span,
        })
    }

    // ---- chains -----------------------------------------------------------------------------

    fn chain_def(&mut self) -> PResult<ChainDef> {
        let start = self.expect(&TokenKind::Def)?.span;
        let name = self.expect_name("a chain name")?;
        self.expect(&TokenKind::LParen)?;
        let params = if self.at(&TokenKind::RParen) {
            Vec::new()
        } else {
            self.params()?
        };
        self.expect(&TokenKind::RParen)?;
        self.block_colon()?;
        let body = self.block("def")?;
        let span = start.to(Span::at(self.prev_end() as usize));
        Ok(ChainDef {
            name,
            params,
            body,
            span,
        })
    }

    fn params(&mut self) -> PResult<Vec<Param>> {
        let mut params = vec![self.param()?];
        while self.eat(&TokenKind::Comma) {
            if self.at(&TokenKind::RParen) {
                break;
            }
            params.push(self.param()?);
        }
        Ok(params)
    }

    fn param(&mut self) -> PResult<Param> {
        if is_type_name(self.text_at(0)) && self.peek_at(1) == &TokenKind::Colon {
            let ty = self.type_name()?;
            self.bump();
            let name = self.expect_name("a parameter name")?;
            return Ok(Param { name, ty: Some(ty) });
        }
        let name = self.expect_name("a parameter")?;
        let ty = if self.eat(&TokenKind::Colon) {
            Some(self.type_name()?)
        } else {
            None
        };
        if self.at(&TokenKind::Assign) {
            return self.habit(Habit::DefaultArgument);
        }
        Ok(Param { name, ty })
    }

    fn type_name(&mut self) -> PResult<TypeName> {
        if !self.at(&TokenKind::Name) {
            return self.expected("a type");
        }
        let t = self.bump();
        let text = t.span.text(self.src);
        match IntType::from_name(text) {
            Some(ty) => Ok(TypeName { ty, span: t.span }),
            None => {
                self.error(SyntaxError::UnknownType { name: text.into() }, t.span);
                Err(())
            }
        }
    }

    /// A block after `:`; `after` names the statement that opened it, for the message.
    fn block(&mut self, after: &'static str) -> PResult<Vec<Stmt>> {
        self.nested(|p| p.block_body(after))
    }

    fn block_body(&mut self, after: &'static str) -> PResult<Vec<Stmt>> {
        if !self.eat(&TokenKind::Newline) {
            return self.simple_stmts();
        }
        if !self.eat(&TokenKind::Indent) {
            let span = self.span();
            self.error(SyntaxError::ExpectedIndentedBlock { after }, span);
            return Ok(Vec::new());
        }
        let mut body = Vec::new();
        self.statements_until_dedent(&mut body);
        Ok(body)
    }

    /// Statements up to and including the `DEDENT` that closes the current block.
    fn statements_until_dedent(&mut self, body: &mut Vec<Stmt>) {
        loop {
            match self.peek() {
                TokenKind::Dedent => {
                    self.bump();
                    return;
                }
                TokenKind::Eof => return,
                TokenKind::Newline => {
                    self.bump();
                }
                TokenKind::Indent => {
                    let span = self.span();
                    self.error(SyntaxError::UnexpectedIndent, span);
                    self.bump();
                    self.statements_until_dedent(body);
                }
                _ => self.statement(body),
            }
        }
    }

    fn statement(&mut self, body: &mut Vec<Stmt>) {
        let start = self.span();
        if self.foreign_statement() {
            self.recover_line();
            body.push(Stmt {
                kind: StmtKind::Error,
                span: start,
            });
            return;
        }
        let result = match self.peek() {
            TokenKind::If => self.if_stmt().map(|s| body.push(s)),
            TokenKind::While => self.while_stmt().map(|s| body.push(s)),
            TokenKind::For => self.for_stmt().map(|s| body.push(s)),
            _ => self.simple_stmts().map(|s| body.extend(s)),
        };
        if result.is_err() {
            self.recover_line();
            body.push(Stmt {
                kind: StmtKind::Error,
                span: start,
            });
        }
    }

    fn simple_stmts(&mut self) -> PResult<Vec<Stmt>> {
        let mut stmts = vec![self.simple_stmt()?];
        while self.eat(&TokenKind::Semi) {
            if matches!(self.peek(), TokenKind::Newline | TokenKind::Eof) {
                break;
            }
            stmts.push(self.simple_stmt()?);
        }
        self.expect_newline()?;
        Ok(stmts)
    }

    fn simple_stmt(&mut self) -> PResult<Stmt> {
        let span = self.span();
        let simple = |p: &mut Self, kind| {
            p.bump();
            Ok(Stmt { kind, span })
        };
        match self.peek() {
            TokenKind::Pass => simple(self, StmtKind::Pass),
            TokenKind::Break => simple(self, StmtKind::Break),
            TokenKind::Continue => simple(self, StmtKind::Continue),
            TokenKind::Return => self.return_stmt(),
            _ => self.assign_stmt(),
        }
    }

    fn return_stmt(&mut self) -> PResult<Stmt> {
        let start = self.expect(&TokenKind::Return)?.span;
        if matches!(
            self.peek(),
            TokenKind::Newline | TokenKind::Semi | TokenKind::Eof
        ) {
            return Ok(Stmt {
                kind: StmtKind::Return(None),
                span: start,
            });
        }
        let value = self.expr()?;
        Ok(Stmt {
            span: start.to(value.span),
            kind: StmtKind::Return(Some(value)),
        })
    }

    fn assign_stmt(&mut self) -> PResult<Stmt> {
        let start = self.span();
        // Type-first declaration: `u64 : x = 1`.
        if self.at(&TokenKind::Name)
            && is_type_name(self.text_at(0))
            && self.peek_at(1) == &TokenKind::Colon
        {
            let ty = self.type_name()?;
            self.bump();
            let name = self.expect_name("a variable name")?;
            let value = if self.eat(&TokenKind::Assign) {
                Some(self.expr()?)
            } else {
                None
            };
            let end = value.as_ref().map_or(name.span, |v| v.span);
            return Ok(Stmt {
                kind: StmtKind::Decl { name, ty, value },
                span: start.to(end),
            });
        }
        let e = self.expr()?;
        match self.peek().clone() {
            TokenKind::Colon => {
                self.bump();
                if let ExprKind::Name(n) = &e.kind {
                    // `u9 : x`: a misspelt type in the type-first form.
                    let looks_like_type = n.len() > 1
                        && n.starts_with(['u', 's', 'i'])
                        && n[1..].chars().all(|c| c.is_ascii_digit());
                    if looks_like_type
                        && self.at(&TokenKind::Name)
                        && !is_type_name(self.text_at(0))
                    {
                        self.error(SyntaxError::UnknownType { name: n.clone() }, e.span);
                        return Err(());
                    }
                }
                let ty = self.type_name()?;
                let ExprKind::Name(name) = e.kind else {
                    self.error(SyntaxError::InvalidTarget, e.span);
                    return Err(());
                };
                let name = Ident { name, span: e.span };
                let value = if self.eat(&TokenKind::Assign) {
                    Some(self.expr()?)
                } else {
                    None
                };
                let end = value.as_ref().map_or(ty.span, |v| v.span);
                Ok(Stmt {
                    kind: StmtKind::Decl { name, ty, value },
                    span: start.to(end),
                })
            }
            TokenKind::Assign => {
                let target = self.target(e)?;
                self.bump();
                let value = self.expr()?;
                Ok(Stmt {
                    span: start.to(value.span),
                    kind: StmtKind::Assign { target, value },
                })
            }
            TokenKind::AugAssign(op) => {
                let target = self.target(e)?;
                let op_span = self.bump().span;
                let value = self.expr()?;
                let op = match op {
                    AugOp::Add => BinOp::Add,
                    AugOp::Sub => BinOp::Sub,
                    AugOp::Mul => BinOp::Mul,
                    AugOp::Div => BinOp::Div,
                    AugOp::Mod => BinOp::Mod,
                    AugOp::And => BinOp::And,
                    AugOp::Or => BinOp::Or,
                    AugOp::Xor => BinOp::Xor,
                    AugOp::Shl => BinOp::Shl,
                    AugOp::Shr => BinOp::Shr,
                };
                Ok(Stmt {
                    span: start.to(value.span),
                    kind: StmtKind::AugAssign {
                        target,
                        op,
                        op_span,
                        value,
                    },
                })
            }
            _ => Ok(Stmt {
                span: e.span,
                kind: StmtKind::Expr(e),
            }),
        }
    }

    fn target(&mut self, e: Expr) -> PResult<Target> {
        match e.kind {
            ExprKind::Name(name) => Ok(Target::Name(Ident { name, span: e.span })),
            ExprKind::PacketField { width, offset } => Ok(Target::Packet {
                width,
                offset: *offset,
                span: e.span,
            }),
            ExprKind::PacketHeader { layer, field } => Ok(Target::Header {
                layer,
                field,
                span: e.span,
            }),
            _ => {
                self.error(SyntaxError::InvalidTarget, e.span);
                Err(())
            }
        }
    }

    fn if_stmt(&mut self) -> PResult<Stmt> {
        let start = self.expect(&TokenKind::If)?.span;
        let cond = self.condition("if")?;
        self.block_colon()?;
        let header = start.to(Span::at(self.prev_end() as usize));
        let mut branches = vec![(cond, self.block("if")?)];
        let mut else_body = None;
        loop {
            let else_if = self.at(&TokenKind::Else) && self.peek_at(1) == &TokenKind::If;
            if else_if {
                // `else if`: reported, then read as the `elif` it means.
                let span = self.bump().span.to(self.bump().span);
                self.error(SyntaxError::Habit(Habit::ElseIf), span);
            }
            if else_if || self.eat(&TokenKind::Elif) {
                let cond = self.condition("elif")?;
                self.block_colon()?;
                branches.push((cond, self.block("elif")?));
            } else if self.eat(&TokenKind::Else) {
                self.block_colon()?;
                else_body = Some(self.block("else")?);
                break;
            } else {
                break;
            }
        }
        Ok(Stmt {
            kind: StmtKind::If {
                branches,
                else_body,
            },
            span: header,
        })
    }

    fn while_stmt(&mut self) -> PResult<Stmt> {
        let start = self.expect(&TokenKind::While)?.span;
        let cond = self.condition("while")?;
        self.block_colon()?;
        let header = start.to(Span::at(self.prev_end() as usize));
        let body = self.block("while")?;
        Ok(Stmt {
            kind: StmtKind::While { cond, body },
            span: header,
        })
    }

    fn for_stmt(&mut self) -> PResult<Stmt> {
        let start = self.expect(&TokenKind::For)?.span;
        if self.at(&TokenKind::LParen) {
            return self.habit(Habit::CFor);
        }
        let var = self.expect_name("a loop variable")?;
        self.expect(&TokenKind::In)?;
        if !(self.at(&TokenKind::Name) && self.text_at(0) == "range") {
            let span = self.span();
            self.error(SyntaxError::ForWithoutRange, span);
            return Err(());
        }
        let range_span = self.bump().span;
        let range = self.call_args()?;
        if range.is_empty() || range.len() > 3 {
            let span = range_span.to(Span::at(self.prev_end() as usize));
            self.error(SyntaxError::RangeArity { found: range.len() }, span);
            return Err(());
        }
        self.block_colon()?;
        let header = start.to(Span::at(self.prev_end() as usize));
        let body = self.block("for")?;
        Ok(Stmt {
            kind: StmtKind::For { var, range, body },
            span: header,
        })
    }

    // ---- expressions -------------------------------------------------------------------------

    fn expr(&mut self) -> PResult<Expr> {
        self.nested(Self::or_expr)
    }

    fn or_expr(&mut self) -> PResult<Expr> {
        let mut lhs = self.and_expr()?;
        while self.eat(&TokenKind::Or) {
            self.deeper()?;
            let rhs = self.and_expr()?;
            lhs = logic(LogicOp::Or, lhs, rhs);
        }
        Ok(lhs)
    }

    fn and_expr(&mut self) -> PResult<Expr> {
        let mut lhs = self.not_expr()?;
        while self.eat(&TokenKind::And) {
            self.deeper()?;
            let rhs = self.not_expr()?;
            lhs = logic(LogicOp::And, lhs, rhs);
        }
        Ok(lhs)
    }

    fn not_expr(&mut self) -> PResult<Expr> {
        if self.at(&TokenKind::Not) {
            let start = self.bump().span;
            let operand = self.nested(Self::not_expr)?;
            return Ok(Expr {
                span: start.to(operand.span),
                kind: ExprKind::Unary {
                    op: UnaryOp::Not,
                    operand: Box::new(operand),
                },
            });
        }
        self.comparison()
    }

    fn comparison(&mut self) -> PResult<Expr> {
        let first = self.bit_or()?;
        let mut rest = Vec::new();
        loop {
            let op = match self.peek() {
                TokenKind::EqEq => CmpOp::Eq,
                TokenKind::NotEq => CmpOp::Ne,
                TokenKind::Lt => CmpOp::Lt,
                TokenKind::Le => CmpOp::Le,
                TokenKind::Gt => CmpOp::Gt,
                TokenKind::Ge => CmpOp::Ge,
                TokenKind::In => CmpOp::In,
                TokenKind::Not if self.peek_at(1) == &TokenKind::In => {
                    self.bump();
                    CmpOp::NotIn
                }
                _ => break,
            };
            self.bump();
            self.deeper()?;
            rest.push((op, self.bit_or()?));
        }
        if rest.is_empty() {
            return Ok(first);
        }
        let span = first.span.to(rest.last().expect("not empty").1.span);
        Ok(Expr {
            kind: ExprKind::Compare {
                first: Box::new(first),
                rest,
            },
            span,
        })
    }

    /// One level of left-associative binary operators.
    fn binary_level(
        &mut self,
        ops: &[(TokenKind, BinOp)],
        next: fn(&mut Self) -> PResult<Expr>,
    ) -> PResult<Expr> {
        let mut lhs = next(self)?;
        while let Some((_, op)) = ops.iter().find(|(k, _)| self.at(k)) {
            let op = *op;
            let op_span = self.bump().span;
            self.deeper()?;
            let rhs = next(self)?;
            lhs = Expr {
                span: lhs.span.to(rhs.span),
                kind: ExprKind::Binary {
                    op,
                    op_span,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
            };
        }
        Ok(lhs)
    }

    fn bit_or(&mut self) -> PResult<Expr> {
        self.binary_level(&[(TokenKind::Pipe, BinOp::Or)], Self::bit_xor)
    }

    fn bit_xor(&mut self) -> PResult<Expr> {
        self.binary_level(&[(TokenKind::Caret, BinOp::Xor)], Self::bit_and)
    }

    fn bit_and(&mut self) -> PResult<Expr> {
        self.binary_level(&[(TokenKind::Amp, BinOp::And)], Self::shift)
    }

    fn shift(&mut self) -> PResult<Expr> {
        self.binary_level(
            &[(TokenKind::Shl, BinOp::Shl), (TokenKind::Shr, BinOp::Shr)],
            Self::arith,
        )
    }

    fn arith(&mut self) -> PResult<Expr> {
        self.binary_level(
            &[
                (TokenKind::Plus, BinOp::Add),
                (TokenKind::Minus, BinOp::Sub),
            ],
            Self::term,
        )
    }

    fn term(&mut self) -> PResult<Expr> {
        self.binary_level(
            &[
                (TokenKind::Star, BinOp::Mul),
                (TokenKind::Slash, BinOp::Div),
                (TokenKind::SlashSlash, BinOp::Div),
                (TokenKind::Percent, BinOp::Mod),
            ],
            Self::factor,
        )
    }

    fn factor(&mut self) -> PResult<Expr> {
        let op = match self.peek() {
            TokenKind::Minus => UnaryOp::Neg,
            TokenKind::Plus => UnaryOp::Plus,
            TokenKind::Tilde => UnaryOp::Invert,
            _ => return self.primary(),
        };
        let start = self.bump().span;
        let operand = self.nested(Self::factor)?;
        Ok(Expr {
            span: start.to(operand.span),
            kind: ExprKind::Unary {
                op,
                operand: Box::new(operand),
            },
        })
    }

    fn primary(&mut self) -> PResult<Expr> {
        let span = self.span();
        let kind = match self.peek().clone() {
            TokenKind::Int(v) => {
                self.bump();
                ExprKind::Int(v)
            }
            TokenKind::Str(s) => {
                self.bump();
                ExprKind::Str(s)
            }
            TokenKind::True => {
                self.bump();
                ExprKind::Bool(true)
            }
            TokenKind::False => {
                self.bump();
                ExprKind::Bool(false)
            }
            TokenKind::LParen => {
                self.bump();
                let inner = self.expr()?;
                self.expect(&TokenKind::RParen)?;
                return Ok(Expr {
                    kind: inner.kind,
                    span: span.to(Span::at(self.prev_end() as usize)),
                });
            }
            TokenKind::LBracket => return self.habit(Habit::List),
            TokenKind::LBrace => return self.habit(Habit::Dict),
            TokenKind::Name
                if self.text_at(0) == "lambda"
                    && matches!(self.peek_at(1), TokenKind::Name | TokenKind::Colon) =>
            {
                return self.habit(Habit::Lambda);
            }
            TokenKind::Name => {
                let text = self.text_at(0);
                if (text == "packet" && self.peek_at(1) == &TokenKind::Dot)
                    || (text == "len"
                        && self.peek_at(1) == &TokenKind::LParen
                        && self.text_at(2) == "packet"
                        && self.peek_at(3) == &TokenKind::RParen)
                {
                    return self.packet_expr();
                }
                if self.peek_at(1) == &TokenKind::LParen {
                    return self.call();
                }
                let name = text.to_string();
                self.bump();
                ExprKind::Name(name)
            }
            _ => return self.expected("an expression"),
        };
        Ok(Expr { kind, span })
    }

    fn call(&mut self) -> PResult<Expr> {
        let callee = self.expect_name("a program, chain or function name")?;
        let args = self.call_args()?;
        Ok(Expr {
            span: callee.span.to(Span::at(self.prev_end() as usize)),
            kind: ExprKind::Call { callee, args },
        })
    }

    fn call_args(&mut self) -> PResult<Vec<Expr>> {
        self.bracketed_list(TokenKind::LParen, TokenKind::RParen, Self::expr)
    }

    fn packet_expr(&mut self) -> PResult<Expr> {
        let start = self.span();
        if self.text_at(0) == "len" {
            for _ in 0..4 {
                self.bump();
            }
            return Ok(Expr {
                kind: ExprKind::PacketLen,
                span: start.to(Span::at(self.prev_end() as usize)),
            });
        }
        if self.text_at(2) == "len" {
            self.bump();
            self.bump();
            let end = self.bump().span;
            return Ok(Expr {
                kind: ExprKind::PacketLen,
                span: start.to(end),
            });
        }
        self.packet_field()
    }

    fn packet_field(&mut self) -> PResult<Expr> {
        let start = self.bump().span;
        self.expect(&TokenKind::Dot)?;
        let field = self.expect_name(
            "a packet field (`u8`, `u16`, `u32`, `u64`, `len`, or a layer such as `ip4`)",
        )?;
        if self.eat(&TokenKind::Dot) {
            let name = self.expect_name("a field of the layer (`packet.ip4.ttl`)")?;
            return Ok(Expr {
                span: start.to(name.span),
                kind: ExprKind::PacketHeader {
                    layer: field,
                    field: name,
                },
            });
        }
        let width = match field.name.as_str() {
            "u8" => PacketWidth::U8,
            "u16" => PacketWidth::U16,
            "u32" => PacketWidth::U32,
            "u64" => PacketWidth::U64,
            _ => {
                self.error(
                    SyntaxError::UnknownPacketField { name: field.name },
                    field.span,
                );
                return Err(());
            }
        };
        self.expect(&TokenKind::LBracket)?;
        let offset = self.expr()?;
        self.expect(&TokenKind::RBracket)?;
        Ok(Expr {
            kind: ExprKind::PacketField {
                width,
                offset: Box::new(offset),
            },
            span: start.to(Span::at(self.prev_end() as usize)),
        })
    }
}

fn logic(op: LogicOp, lhs: Expr, rhs: Expr) -> Expr {
    Expr {
        span: lhs.span.to(rhs.span),
        kind: ExprKind::Logic {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        },
    }
}
