//! Reading pushed messages with quick-xml (writing is plain string building, in `mod.rs`).

use quick_xml::Reader;
use quick_xml::events::Event;

use super::{ElementKind, EventError, EventFields, Message};

impl Message {
    /// Parses a pushed message (`<xml>…</xml>`, plain, or decrypted from safe mode) into the
    /// header and the typed event.
    ///
    /// At most [`MAX_ELEMENTS`] child elements are read (more is an [`EventError::Xml`]), so the
    /// memory a parse takes stays within a small multiple of the text's length.
    pub fn parse(xml: &str) -> Result<Message, EventError> {
        Message::from_owned_fields(parse_fields(xml)?)
    }
}

impl EventFields {
    /// Reads the child elements of a `<xml>…</xml>` message. An element with child elements is
    /// kept as its raw inner XML ([`ElementKind::Markup`]). At most [`MAX_ELEMENTS`] child
    /// elements (more is an [`EventError::Xml`]).
    pub fn parse(xml: &str) -> Result<EventFields, EventError> {
        parse_fields(xml)
    }
}

/// The most child elements of `<xml>` a message may have. WeChat's card events have about 20;
/// the bound keeps a parse's memory within a small multiple of the body (each element costs a
/// fixed amount beside its text).
pub const MAX_ELEMENTS: usize = 1024;

/// What a streaming look at a message's top-level elements found, without building any tree.
#[derive(Debug, Default)]
pub(crate) struct Envelope {
    /// The text of the first `Encrypt` element.
    pub encrypt: Option<String>,
    /// Whether a `MsgType` element is there (compatible mode: plain elements beside
    /// `Encrypt`).
    pub has_msg_type: bool,
}

/// Reads the top-level elements of `<xml>…</xml>` one by one, keeping only the text of the first
/// `Encrypt` (other elements are skipped over without copying). Fails on malformed XML.
pub(crate) fn scan_envelope(xml: &str) -> Result<Envelope, EventError> {
    let mut reader = Reader::from_str(xml);
    if !open_root(&mut reader)? {
        return Ok(Envelope::default());
    }
    let mut envelope = Envelope::default();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                let name = e.name();
                if name.as_ref() == b"Encrypt" && envelope.encrypt.is_none() {
                    envelope.encrypt = Some(child(&mut reader, xml)?.0);
                } else {
                    envelope.has_msg_type |= name.as_ref() == b"MsgType";
                    let end = e.to_end().into_owned();
                    reader
                        .read_to_end(end.name())
                        .map_err(|e| xml_error(&reader, e))?;
                }
            }
            Ok(Event::Empty(e)) => {
                let name = e.name();
                if name.as_ref() == b"Encrypt" && envelope.encrypt.is_none() {
                    envelope.encrypt = Some(String::new());
                }
                envelope.has_msg_type |= name.as_ref() == b"MsgType";
            }
            Ok(Event::Text(t)) if t.iter().all(u8::is_ascii_whitespace) => {}
            Ok(Event::Comment(_) | Event::PI(_)) => {}
            Ok(Event::End(_)) => break,
            Ok(Event::Eof) => return Err(EventError::Xml("<xml> is not closed".into())),
            Ok(_) => return Err(EventError::Xml("text directly inside <xml>".into())),
            Err(e) => return Err(xml_error(&reader, e)),
        }
    }
    finish(&mut reader)?;
    Ok(envelope)
}

fn xml_error(reader: &Reader<&[u8]>, e: impl std::fmt::Display) -> EventError {
    EventError::Xml(format!("{e} (at byte {})", reader.error_position()))
}

fn position(reader: &Reader<&[u8]>) -> usize {
    usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX)
}

/// Reads up to the root `<xml>`, after an optional declaration, comments and whitespace:
/// `true` for `<xml>`, `false` for an empty `<xml/>` (then nothing may follow).
fn open_root(reader: &mut Reader<&[u8]>) -> Result<bool, EventError> {
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) if e.name().as_ref() == b"xml" => return Ok(true),
            Ok(Event::Empty(e)) if e.name().as_ref() == b"xml" => {
                return finish(reader).map(|()| false);
            }
            Ok(Event::Start(e) | Event::Empty(e)) => {
                return Err(EventError::Xml(format!(
                    "the root element is <{}>, not <xml>",
                    super::clip(&String::from_utf8_lossy(e.name().as_ref()))
                )));
            }
            Ok(Event::Text(t)) if t.iter().all(u8::is_ascii_whitespace) => {}
            Ok(Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_)) => {}
            Ok(Event::Eof) => return Err(EventError::Xml("the body has no <xml> element".into())),
            Ok(_) => return Err(EventError::Xml("content before the <xml> element".into())),
            Err(e) => return Err(xml_error(reader, e)),
        }
    }
}

pub(crate) fn parse_fields(xml: &str) -> Result<EventFields, EventError> {
    let mut reader = Reader::from_str(xml);
    if !open_root(&mut reader)? {
        return Ok(EventFields::new());
    }
    let mut fields = EventFields::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                too_many(&fields)?;
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                let (value, kind) = child(&mut reader, xml)?;
                fields.push(name, value, kind);
            }
            Ok(Event::Empty(e)) => {
                too_many(&fields)?;
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                fields.push(name, "", ElementKind::Plain);
            }
            Ok(Event::Text(t)) if t.iter().all(u8::is_ascii_whitespace) => {}
            Ok(Event::Comment(_) | Event::PI(_)) => {}
            // `check_end_names` (the default) makes this the `</xml>`.
            Ok(Event::End(_)) => break,
            Ok(Event::Eof) => return Err(EventError::Xml("<xml> is not closed".into())),
            Ok(_) => return Err(EventError::Xml("text directly inside <xml>".into())),
            Err(e) => return Err(xml_error(&reader, e)),
        }
    }
    finish(&mut reader)?;
    Ok(fields)
}

fn too_many(fields: &EventFields) -> Result<(), EventError> {
    if fields.len() >= MAX_ELEMENTS {
        return Err(EventError::Xml(format!(
            "more than {MAX_ELEMENTS} elements in <xml>"
        )));
    }
    Ok(())
}

/// Only whitespace and comments may follow the root.
fn finish(reader: &mut Reader<&[u8]>) -> Result<(), EventError> {
    loop {
        match reader.read_event() {
            Ok(Event::Eof) => return Ok(()),
            Ok(Event::Text(t)) if t.iter().all(u8::is_ascii_whitespace) => {}
            Ok(Event::Comment(_) | Event::PI(_)) => {}
            Ok(_) => return Err(EventError::Xml("content after </xml>".into())),
            Err(e) => return Err(xml_error(reader, e)),
        }
    }
}

/// The content of a child element whose start tag was just read, up to its end tag.
fn child(reader: &mut Reader<&[u8]>, xml: &str) -> Result<(String, ElementKind), EventError> {
    let start = position(reader);
    // Every part in order, the text parts alone, the CDATA parts alone.
    let mut ordered = String::new();
    let mut text = String::new();
    let mut cdata = String::new();
    let mut saw_cdata = false;
    let mut markup = false;
    let mut depth = 0usize;
    let end;
    loop {
        let before = position(reader);
        let event = reader.read_event().map_err(|e| xml_error(reader, e))?;
        match event {
            Event::Start(_) => {
                depth += 1;
                markup = true;
            }
            Event::Empty(_) => markup = true,
            Event::End(_) if depth == 0 => {
                end = before;
                break;
            }
            Event::End(_) => depth -= 1,
            Event::Text(t) if depth == 0 => {
                let part = t.xml_content().map_err(|e| xml_error(reader, e))?;
                text.push_str(&part);
                ordered.push_str(&part);
            }
            Event::GeneralRef(r) if depth == 0 => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => {
                        let name = r.decode().map_err(|e| xml_error(reader, e))?;
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| EventError::Xml(format!("unknown entity &{name};")))?
                            .to_owned()
                    }
                    Err(e) => return Err(xml_error(reader, e)),
                };
                text.push_str(&resolved);
                ordered.push_str(&resolved);
            }
            Event::CData(c) if depth == 0 => {
                let part = c.decode().map_err(|e| xml_error(reader, e))?;
                cdata.push_str(&part);
                ordered.push_str(&part);
                saw_cdata = true;
            }
            Event::Eof => return Err(EventError::Xml("an element is not closed".into())),
            _ => {}
        }
    }
    if markup {
        let raw = xml.get(start..end).unwrap_or_default().to_owned();
        return Ok((raw, ElementKind::Markup));
    }
    match (saw_cdata, text.trim().is_empty()) {
        // Whitespace around CDATA sections is layout, not content.
        (true, true) => Ok((cdata, ElementKind::Cdata)),
        (true, false) => Ok((ordered, ElementKind::Cdata)),
        (false, _) => Ok((text, ElementKind::Plain)),
    }
}
