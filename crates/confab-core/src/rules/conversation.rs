//! The conversation lifecycle. Every way of changing a status (Linktor PATCH, `/close`, `/reopen`,
//! `/snooze`, Airy `set-state`, G-Tateth PUT, the snooze timer, an inbound message) goes through
//! these functions, so the stamps and the event are the same whichever face asked.
//!
//! Decisions (DESIGN.md, Lifecycle):
//! - Only the explicit `/close` of a closed and `/reopen` of a non-closed conversation are 409;
//!   setting the status a conversation already has any other way is a no-op (no event).
//! - `snoozed` needs `snoozedUntil` in the future; the timer opens the conversation at that instant.
//! - Leaving `closed` (to any active status) is a reopen: stamps `reopenedAt`/`reopenedBy` and emits
//!   `conversation.reopened`. Entering `closed` is a close: `conversation.closed`.
//! - Airy's `set-state` ([`set_state`]): `OPEN`/`CLOSED` are the reopen and close above, applied as
//!   a status change (no 409: the state it already has is a no-op); an open, pending or snoozed
//!   conversation already reads `OPEN`, so `OPEN` leaves it as it is. Both clear the custom label;
//!   any other state only sets the label (`conversation.updated`), and `remove-state` only removes it.

use crate::error::{Error, Result};
use crate::model::{Actor, CloseInput, Conversation, EventType, StateChange, Status, StatusChange};
use crate::time::Time;

/// Applies a status change requested through an update. Returns the event it amounts to, or `None`
/// when nothing changed.
pub fn change_status(
    conv: &mut Conversation,
    change: &StatusChange,
    actor: &Actor,
    now: Time,
) -> Result<Option<EventType>> {
    let target = change.status;
    if target == Status::Snoozed {
        let until = change
            .snoozed_until
            .ok_or_else(|| Error::invalid("snoozedUntil", "is required when the status is snoozed"))?;
        if until <= now {
            return Err(Error::invalid("snoozedUntil", "must be in the future"));
        }
    } else if change.snoozed_until.is_some() {
        return Err(Error::invalid("snoozedUntil", "may only be given with the status snoozed"));
    }
    if target == conv.status && (target != Status::Snoozed || conv.snoozed_until == change.snoozed_until) {
        return Ok(None);
    }
    let was_closed = conv.status == Status::Closed;
    if target == Status::Closed {
        close_stamps(conv, &CloseInput::default(), actor, now);
        return Ok(Some(EventType::ConversationClosed));
    }
    conv.status = target;
    conv.snoozed_until = if target == Status::Snoozed { change.snoozed_until } else { None };
    conv.updated_at = now;
    if was_closed {
        conv.reopened_at = Some(now);
        conv.reopened_by = Some(actor.clone());
        return Ok(Some(EventType::ConversationReopened));
    }
    Ok(Some(EventType::ConversationUpdated))
}

/// The explicit close. 409 `CONVERSATION_ALREADY_CLOSED` when it is closed already.
pub fn close(conv: &mut Conversation, input: &CloseInput, actor: &Actor, now: Time) -> Result<EventType> {
    if conv.status == Status::Closed {
        return Err(Error::conflict("CONVERSATION_ALREADY_CLOSED", "The conversation is already closed."));
    }
    close_stamps(conv, input, actor, now);
    Ok(EventType::ConversationClosed)
}

fn close_stamps(conv: &mut Conversation, input: &CloseInput, actor: &Actor, now: Time) {
    conv.status = Status::Closed;
    conv.snoozed_until = None;
    conv.closed_at = Some(now);
    conv.closed_by = Some(actor.clone());
    conv.resolution = input.resolution;
    conv.closure_reason = input.reason.clone();
    conv.updated_at = now;
}

/// The explicit reopen. 409 `CONVERSATION_NOT_CLOSED` when it is not closed.
pub fn reopen(conv: &mut Conversation, actor: &Actor, now: Time) -> Result<EventType> {
    if conv.status != Status::Closed {
        return Err(Error::conflict("CONVERSATION_NOT_CLOSED", "Only a closed conversation can be reopened."));
    }
    change_status(conv, &StatusChange { status: Status::Open, snoozed_until: None }, actor, now)
        .map(|e| e.unwrap_or(EventType::ConversationReopened))
}

/// Airy's state change. Returns the one event it amounts to — the status change's
/// (`conversation.closed`/`.reopened`) when the status moved, else `conversation.updated` when only
/// the label changed — or `None` when nothing changed.
pub fn set_state(conv: &mut Conversation, change: &StateChange, actor: &Actor, now: Time) -> Result<Option<EventType>> {
    let label_before = conv.state_label.clone();
    let target = match change {
        StateChange::Open if conv.status == Status::Closed => Some(Status::Open),
        StateChange::Closed => Some(Status::Closed),
        _ => None,
    };
    let event = match target {
        Some(status) => change_status(conv, &StatusChange { status, snoozed_until: None }, actor, now)?,
        None => None,
    };
    conv.state_label = match change {
        StateChange::Label(label) => Some(label.clone()),
        _ => None,
    };
    if event.is_none() && conv.state_label != label_before {
        conv.updated_at = now;
        return Ok(Some(EventType::ConversationUpdated));
    }
    Ok(event)
}

/// The snooze timer: a snoozed conversation whose time has come is open again. Returns whether it
/// changed (a conversation changed meanwhile is left alone).
pub fn wake(conv: &mut Conversation, now: Time) -> bool {
    match (conv.status, conv.snoozed_until) {
        (Status::Snoozed, Some(until)) if until <= now => {
            conv.status = Status::Open;
            conv.snoozed_until = None;
            conv.updated_at = now;
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TenantId;
    use crate::time;

    fn conv(status: Status) -> Conversation {
        Conversation { status, ..Conversation::new(TenantId::new(), time::now()) }
    }

    fn agent() -> Actor {
        Actor::user(crate::ids::UserId::new(), "Agent")
    }

    #[test]
    fn closing_twice_is_a_conflict_but_setting_closed_again_is_a_no_op() {
        let mut c = conv(Status::Open);
        let now = time::now();
        assert_eq!(close(&mut c, &CloseInput::default(), &agent(), now).unwrap(), EventType::ConversationClosed);
        assert!(matches!(
            close(&mut c, &CloseInput::default(), &agent(), now),
            Err(Error::Conflict { code: "CONVERSATION_ALREADY_CLOSED", .. })
        ));
        let same = StatusChange { status: Status::Closed, snoozed_until: None };
        assert_eq!(change_status(&mut c, &same, &agent(), now).unwrap(), None);
    }

    #[test]
    fn leaving_closed_is_a_reopen_with_stamps() {
        let mut c = conv(Status::Closed);
        let now = time::now();
        let to_pending = StatusChange { status: Status::Pending, snoozed_until: None };
        assert_eq!(change_status(&mut c, &to_pending, &agent(), now).unwrap(), Some(EventType::ConversationReopened));
        assert_eq!(c.reopened_at, Some(now));
        assert!(matches!(reopen(&mut c, &agent(), now), Err(Error::Conflict { code: "CONVERSATION_NOT_CLOSED", .. })));
    }

    #[test]
    fn snoozing_needs_a_future_instant_and_waking_opens() {
        let mut c = conv(Status::Open);
        let now = time::now();
        let past = StatusChange { status: Status::Snoozed, snoozed_until: Some(now) };
        assert!(matches!(change_status(&mut c, &past, &agent(), now), Err(Error::Validation(_))));
        let missing = StatusChange { status: Status::Snoozed, snoozed_until: None };
        assert!(matches!(change_status(&mut c, &missing, &agent(), now), Err(Error::Validation(_))));
        let later = now + chrono::Duration::seconds(60);
        let ok = StatusChange { status: Status::Snoozed, snoozed_until: Some(later) };
        assert_eq!(change_status(&mut c, &ok, &agent(), now).unwrap(), Some(EventType::ConversationUpdated));
        assert!(!wake(&mut c, now));
        assert!(wake(&mut c, later));
        assert_eq!((c.status, c.snoozed_until), (Status::Open, None));
    }

    #[test]
    fn airy_states_are_the_core_close_and_reopen_and_labels_stand_beside_the_status() {
        let now = time::now();
        let mut c = conv(Status::Pending);
        // OPEN on an active conversation changes nothing.
        assert_eq!(set_state(&mut c, &StateChange::Open, &agent(), now).unwrap(), None);
        assert_eq!(c.status, Status::Pending);
        let label = StateChange::Label("ESCALATED".into());
        assert_eq!(set_state(&mut c, &label, &agent(), now).unwrap(), Some(EventType::ConversationUpdated));
        assert_eq!((c.status, c.state_label.as_deref()), (Status::Pending, Some("ESCALATED")));
        assert_eq!(set_state(&mut c, &label, &agent(), now).unwrap(), None);
        // CLOSED closes and clears the label, in one event; again it is a no-op.
        assert_eq!(
            set_state(&mut c, &StateChange::Closed, &agent(), now).unwrap(),
            Some(EventType::ConversationClosed)
        );
        assert_eq!((c.status, c.state_label.as_deref()), (Status::Closed, None));
        assert_eq!(set_state(&mut c, &StateChange::Closed, &agent(), now).unwrap(), None);
        c.state_label = Some("WAITING".into());
        assert_eq!(
            set_state(&mut c, &StateChange::Open, &agent(), now).unwrap(),
            Some(EventType::ConversationReopened)
        );
        assert_eq!((c.status, c.state_label.as_deref()), (Status::Open, None));
        c.state_label = Some("WAITING".into());
        assert_eq!(
            set_state(&mut c, &StateChange::RemoveLabel, &agent(), now).unwrap(),
            Some(EventType::ConversationUpdated)
        );
        assert_eq!(set_state(&mut c, &StateChange::RemoveLabel, &agent(), now).unwrap(), None);
        assert_eq!(c.status, Status::Open);
    }
}
