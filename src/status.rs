//! Twilio message statuses, their order, and the status Hivekeep shows.

use core::fmt;

/// A Twilio message status: the 13 values of the API, plus any other value kept as text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MessageStatus {
    /// Scheduled through a Messaging Service.
    Scheduled,
    /// Accepted by a Messaging Service.
    Accepted,
    /// Queued for sending.
    Queued,
    /// Being sent to the carrier.
    Sending,
    /// Handed to the carrier (not yet delivered).
    Sent,
    /// The carrier confirmed delivery.
    Delivered,
    /// The carrier could not deliver it.
    Undelivered,
    /// Some parts delivered, not all.
    PartiallyDelivered,
    /// It never reached a carrier.
    Failed,
    /// A scheduled message was canceled.
    Canceled,
    /// Read (WhatsApp and RCS).
    Read,
    /// An inbound message being received.
    Receiving,
    /// An inbound message received.
    Received,
    /// A value this crate does not know, kept as sent.
    Unknown(String),
}

/// The delivery status Hivekeep shows under a message bubble.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum HivekeepStatus {
    /// Not yet handed to a carrier.
    Queued,
    /// Handed to a carrier.
    Sent,
    /// Delivered.
    Delivered,
    /// Not delivered.
    Undelivered,
    /// Failed before reaching a carrier.
    Failed,
    /// Read.
    Read,
    /// Unknown.
    Unknown,
}

impl MessageStatus {
    /// Reads a status as Twilio writes it (`queued`, `partially_delivered`, ...).
    #[must_use]
    pub fn parse(s: &str) -> Self {
        match s {
            "scheduled" => Self::Scheduled,
            "accepted" => Self::Accepted,
            "queued" => Self::Queued,
            "sending" => Self::Sending,
            "sent" => Self::Sent,
            "delivered" => Self::Delivered,
            "undelivered" => Self::Undelivered,
            "partially_delivered" => Self::PartiallyDelivered,
            "failed" => Self::Failed,
            "canceled" => Self::Canceled,
            "read" => Self::Read,
            "receiving" => Self::Receiving,
            "received" => Self::Received,
            other => Self::Unknown(other.to_owned()),
        }
    }

    /// The status as Twilio writes it.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Accepted => "accepted",
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Undelivered => "undelivered",
            Self::PartiallyDelivered => "partially_delivered",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
            Self::Read => "read",
            Self::Receiving => "receiving",
            Self::Received => "received",
            Self::Unknown(s) => s,
        }
    }

    /// The delivery rank: a status supersedes another when its rank is higher, or equal and final (see
    /// [`DeliveryRank::supersedes`]). `None` for inbound statuses and unknown values, which never
    /// supersede anything.
    ///
    /// The final statuses rank above the others, and a failure (`undelivered`, `partially_delivered`,
    /// `failed`, `canceled`) above `delivered` and `read`: the parts of a multi-part message report
    /// under one SID (see [`crate::hivekeep::delivery::PartTag`]), and when the last part is delivered before an
    /// earlier part's failure comes in, the failure must still replace `delivered`.
    #[must_use]
    pub fn rank(&self) -> Option<DeliveryRank> {
        Some(DeliveryRank(match self {
            Self::Scheduled => 0,
            Self::Accepted => 1,
            Self::Queued => 2,
            Self::Sending => 3,
            Self::Sent => 4,
            Self::Delivered => 5,
            Self::Read => 6,
            Self::Undelivered | Self::PartiallyDelivered | Self::Failed | Self::Canceled => 7,
            Self::Receiving | Self::Received | Self::Unknown(_) => return None,
        }))
    }

    /// Whether the status is final (`delivered`, `read` or a failure).
    #[must_use]
    pub fn is_final(&self) -> bool {
        self.rank().is_some_and(DeliveryRank::is_final)
    }

    /// The status Hivekeep shows.
    #[must_use]
    pub fn hivekeep(&self) -> HivekeepStatus {
        match self {
            Self::Scheduled | Self::Accepted | Self::Queued | Self::Sending => HivekeepStatus::Queued,
            Self::Sent => HivekeepStatus::Sent,
            Self::Delivered => HivekeepStatus::Delivered,
            Self::Undelivered | Self::PartiallyDelivered => HivekeepStatus::Undelivered,
            Self::Failed | Self::Canceled => HivekeepStatus::Failed,
            Self::Read => HivekeepStatus::Read,
            Self::Receiving | Self::Received | Self::Unknown(_) => HivekeepStatus::Unknown,
        }
    }
}

impl fmt::Display for MessageStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A delivery status's place in a message's life, ordered: 0 `scheduled` … 4 `sent`, 5 `delivered`, 6
/// `read`, 7 every failure (see [`MessageStatus::rank`]). Kept by a [`ChannelStore`](crate::hivekeep::store) as
/// its number ([`DeliveryRank::get`], read back with [`DeliveryRank::new`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeliveryRank(u8);

impl DeliveryRank {
    /// The rank of the lowest final status (`delivered`).
    pub const FINAL: Self = Self(5);
    /// The highest rank (a failure).
    pub const MAX: Self = Self(7);

    /// The rank numbered `rank` (as [`Self::get`] gives it), or `None` for a number no status has.
    #[must_use]
    pub const fn new(rank: u8) -> Option<Self> {
        if rank <= Self::MAX.0 { Some(Self(rank)) } else { None }
    }

    /// Its number, as a store keeps it.
    #[must_use]
    pub const fn get(self) -> u8 {
        self.0
    }

    /// Whether it is a final status's (`delivered`, `read`, a failure).
    #[must_use]
    pub fn is_final(self) -> bool {
        self >= Self::FINAL
    }

    /// Whether a status of this rank is applied over the rank `applied` so far: when it is higher, or
    /// equal and final. A final status is applied again by its equal because Hivekeep may have missed
    /// the first: it drops an update that comes before it has linked the message, which happens to the
    /// parts of a multi-part reply that fail while later parts are still being sent (all parts to a
    /// landline fail alike; the last part's failure then still reaches Hivekeep). An exact repeat of a
    /// callback must be dropped before, as a duplicate (the channel does, by its idempotency key; a host
    /// that calls `advanceStatus` itself calls `firstSighting` first).
    #[must_use]
    pub fn supersedes(self, applied: Self) -> bool {
        self > applied || (self == applied && self.is_final())
    }
}

impl fmt::Display for DeliveryRank {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What a channel does with a delivery status for a message, given the status applied so far (see
/// [`decide`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatusDecision {
    /// The new status is the message's state: hand it to the host and keep it.
    Apply,
    /// The new status does not change the message's state, which is final (a failure, `delivered` or
    /// `read`): hand the host the kept state again, so that a host that dropped it (Hivekeep drops the
    /// updates that come before it has linked the message, as a part's early failure does) shows the
    /// message's true state.
    Reassert,
    /// Nothing to hand over: the kept state is not final and the new status does not supersede it.
    Ignore,
}

/// The ordering decision, pure (the caller keeps the state): `applied` is the rank kept for the
/// message (none when nothing is kept, or the record is unreadable), `rank` the new status's (none for
/// inbound and unknown statuses, which never change anything). A status that
/// [supersedes](DeliveryRank::supersedes) the kept
/// one applies; otherwise a kept final status is reasserted, and anything else is ignored. A failure
/// outranks `delivered`, so the last part's `delivered` after a part's failure reasserts the failure.
#[must_use]
pub fn decide(applied: Option<DeliveryRank>, rank: Option<DeliveryRank>) -> StatusDecision {
    match (applied, rank) {
        (_, None) => StatusDecision::Ignore,
        (None, Some(_)) => StatusDecision::Apply,
        (Some(applied), Some(rank)) if rank.supersedes(applied) => StatusDecision::Apply,
        (Some(applied), Some(_)) if applied.is_final() => StatusDecision::Reassert,
        (Some(_), Some(_)) => StatusDecision::Ignore,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_thirteen_statuses_round_trip_and_rank() {
        let all = [
            "queued",
            "sending",
            "sent",
            "failed",
            "delivered",
            "undelivered",
            "receiving",
            "received",
            "accepted",
            "scheduled",
            "read",
            "partially_delivered",
            "canceled",
        ];
        for s in all {
            let status = MessageStatus::parse(s);
            assert!(!matches!(status, MessageStatus::Unknown(_)), "{s}");
            assert_eq!(status.as_str(), s);
        }
        assert_eq!(MessageStatus::parse("teleported"), MessageStatus::Unknown("teleported".into()));
        assert_eq!(MessageStatus::parse("teleported").rank(), None);
        assert!(MessageStatus::Sent.rank() < MessageStatus::Delivered.rank());
        assert!(MessageStatus::Delivered.rank() < MessageStatus::Read.rank());
        assert!(MessageStatus::Read.rank() < MessageStatus::Failed.rank());
        for failure in
            [MessageStatus::Undelivered, MessageStatus::PartiallyDelivered, MessageStatus::Canceled]
        {
            assert_eq!(failure.rank(), MessageStatus::Failed.rank(), "{failure:?}");
        }
        assert!(MessageStatus::Read.is_final() && MessageStatus::Canceled.is_final());
        assert!(!MessageStatus::Sent.is_final());
        assert_eq!(MessageStatus::PartiallyDelivered.hivekeep(), HivekeepStatus::Undelivered);
        assert_eq!(MessageStatus::Canceled.hivekeep(), HivekeepStatus::Failed);
        assert_eq!(MessageStatus::Accepted.hivekeep(), HivekeepStatus::Queued);
    }

    #[test]
    fn decisions_apply_reassert_or_ignore() {
        use StatusDecision::{Apply, Ignore, Reassert};
        let rank = |s: &str| MessageStatus::parse(s).rank();
        assert_eq!(decide(None, rank("sent")), Apply, "nothing kept");
        assert_eq!(decide(rank("sent"), rank("delivered")), Apply);
        assert_eq!(decide(rank("delivered"), rank("failed")), Apply, "a failure outranks delivered");
        assert_eq!(decide(rank("failed"), rank("undelivered")), Apply, "another part's failure");
        // The known gap: a part failed before the host linked the reply, then the last part is delivered.
        assert_eq!(decide(rank("failed"), rank("delivered")), Reassert);
        assert_eq!(decide(rank("delivered"), rank("sent")), Reassert, "a late sent keeps delivered");
        assert_eq!(decide(rank("sent"), rank("queued")), Ignore);
        assert_eq!(decide(rank("sent"), rank("sent")), Ignore, "a non-final tie changes nothing");
        assert_eq!(decide(rank("failed"), None), Ignore, "an inbound or unknown status");
    }

    #[test]
    fn ranks_are_numbered_for_stores_and_only_those_read_back() {
        assert_eq!(MessageStatus::Delivered.rank(), Some(DeliveryRank::FINAL));
        assert_eq!(MessageStatus::Failed.rank().map(DeliveryRank::get), Some(7));
        for n in 0..=7 {
            assert_eq!(DeliveryRank::new(n).map(DeliveryRank::get), Some(n));
        }
        assert_eq!(DeliveryRank::new(8), None);
        let (sent, delivered) = (DeliveryRank::new(4).unwrap(), DeliveryRank::FINAL);
        assert!(delivered.supersedes(sent) && delivered.supersedes(delivered));
        assert!(!sent.supersedes(sent) && !sent.supersedes(delivered));
    }
}
