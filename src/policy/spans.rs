//! Where each field of a YAML document is: an index from field paths
//! (`spec.metrics[0].resource.target`) to line and column, so that every
//! problem, found by serde or by `validate`, can name its position.

use std::collections::HashMap;

use granit_parser::{Event, Marker, Parser, Span, SpannedEventReceiver};

/// Line and column, both 1-based.
pub type Position = (usize, usize);

/// The positions of one document's fields.
#[derive(Debug, Default)]
pub struct DocSpans {
    pub start: Position,
    fields: HashMap<String, Position>,
}

impl DocSpans {
    /// The position of exactly `path`.
    pub fn get(&self, path: &str) -> Option<Position> {
        self.fields.get(path).copied()
    }

    /// The position of `path`, or of its nearest ancestor that has one.
    pub fn find(&self, path: &str) -> Position {
        let mut p = path;
        loop {
            if let Some(pos) = self.fields.get(p) {
                return *pos;
            }
            match p.rfind(['.', '[']) {
                Some(i) => p = &p[..i],
                None => return self.start,
            }
        }
    }
}

/// A YAML syntax error with its position.
#[derive(Debug)]
pub struct SyntaxError {
    pub position: Position,
    pub message: String,
}

enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, index: usize },
}

#[derive(Default)]
struct Indexer {
    docs: Vec<DocSpans>,
    stack: Vec<Frame>,
}

fn position(mark: &Marker) -> Position {
    (mark.line(), mark.col() + 1)
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

impl Indexer {
    fn doc(&mut self) -> &mut DocSpans {
        if self.docs.is_empty() {
            self.docs.push(DocSpans::default());
        }
        self.docs.last_mut().expect("a document exists")
    }

    /// The path of the value node starting now, recording its position if new.
    fn value_path(&mut self, mark: &Marker) -> String {
        let path = match self.stack.last_mut() {
            None => String::new(),
            Some(Frame::Map { path, key }) => join(path, key.as_deref().unwrap_or("")),
            Some(Frame::Seq { path, index }) => format!("{path}[{index}]"),
        };
        self.doc()
            .fields
            .entry(path.clone())
            .or_insert(position(mark));
        path
    }

    /// A value node finished: the parent moves to its next key or item.
    fn value_done(&mut self) {
        match self.stack.last_mut() {
            Some(Frame::Map { key, .. }) => *key = None,
            Some(Frame::Seq { index, .. }) => *index += 1,
            None => {}
        }
    }
}

impl<'input> SpannedEventReceiver<'input> for Indexer {
    fn on_event(&mut self, ev: Event<'input>, span: Span) {
        let mark = &span.start;
        match ev {
            Event::DocumentStart(..) => {
                self.docs.push(DocSpans {
                    start: position(mark),
                    fields: HashMap::new(),
                });
                self.stack.clear();
            }
            Event::MappingStart(..) => {
                let path = self.value_path(mark);
                self.stack.push(Frame::Map { path, key: None });
            }
            Event::SequenceStart(..) => {
                let path = self.value_path(mark);
                self.stack.push(Frame::Seq { path, index: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                self.value_done();
            }
            Event::Scalar(value, ..) => {
                if let Some(Frame::Map {
                    path,
                    key: key @ None,
                }) = self.stack.last_mut()
                {
                    let field = join(path, &value);
                    let map_path = path.clone();
                    *key = Some(value.into_owned());
                    let pos = position(mark);
                    let fields = &mut self.doc().fields;
                    fields.entry(field).or_insert(pos);
                    // A block mapping is reported where its first key starts.
                    if let Some(map_pos) = fields.get_mut(&map_path) {
                        *map_pos = (*map_pos).min(pos);
                    }
                } else {
                    self.value_path(mark);
                    self.value_done();
                }
            }
            Event::Alias(_) | Event::UnresolvedAlias(_) => {
                self.value_path(mark);
                self.value_done();
            }
            _ => {}
        }
    }
}

/// Indexes every document of `text`.
pub fn index(text: &str) -> Result<Vec<DocSpans>, SyntaxError> {
    let mut indexer = Indexer::default();
    Parser::new_from_str(text)
        .load(&mut indexer, true)
        .map_err(|e| SyntaxError {
            position: position(e.marker()),
            message: e.info().to_string(),
        })?;
    Ok(indexer.docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_items_and_ancestors() {
        let text = "a: 1\nspec:\n  metrics:\n  - type: Pods\n    pods: {x: 1}\n---\nb: 2\n";
        let docs = index(text).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].find("a"), (1, 1));
        assert_eq!(docs[0].find("spec.metrics"), (3, 3));
        assert_eq!(docs[0].find("spec.metrics[0]"), (4, 5));
        assert_eq!(docs[0].find("spec.metrics[0].pods"), (5, 5));
        assert_eq!(docs[0].find("spec.metrics[0].pods.x"), (5, 12));
        // Unknown paths fall back to the nearest ancestor.
        assert_eq!(docs[0].find("spec.metrics[0].pods.missing"), (5, 5));
        assert_eq!(docs[1].find("b"), (7, 1));
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = index("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.position.0 >= 1, "{err:?}");
    }
}
