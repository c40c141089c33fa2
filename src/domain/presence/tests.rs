//! The registry's counts and the grace period.
use super::*;

const TENANT: TenantId = TenantId(uuid::Uuid::nil());

fn someone() -> ParticipantId {
    ParticipantId(uuid::Uuid::now_v7())
}

#[test]
fn online_from_the_first_connection_to_the_expiry_of_the_last() {
    let registry = Registry::default();
    let p = someone();
    assert!(
        registry.connect(p, TENANT, Role::User),
        "first connection: online"
    );
    assert!(
        !registry.connect(p, TENANT, Role::User),
        "second device: no change"
    );
    assert_eq!(registry.disconnect(p), None, "one device left");
    let generation = registry.disconnect(p).expect("the last one closed");
    assert!(registry.is_online_here(p), "online during the grace period");
    assert!(registry.expiring(p, generation), "would go offline now");
    assert!(
        registry.is_online_here(p),
        "asking does not take them offline"
    );
    assert!(registry.expire(p, generation));
    assert!(!registry.expiring(p, generation), "already offline");
    assert!(!registry.is_online_here(p));
    assert!(!registry.expire(p, generation), "offline once");
}

#[test]
fn a_reconnect_within_the_grace_period_keeps_them_online() {
    let registry = Registry::default();
    let p = someone();
    registry.connect(p, TENANT, Role::User);
    let generation = registry.disconnect(p).unwrap();
    assert!(
        !registry.connect(p, TENANT, Role::User),
        "back before the grace ran out: no change"
    );
    assert!(!registry.expiring(p, generation), "nothing to stamp");
    assert!(
        !registry.expire(p, generation),
        "the old timer does nothing"
    );
    assert!(registry.is_online_here(p));
    let later = registry.disconnect(p).unwrap();
    assert_ne!(later, generation);
    assert!(registry.expire(p, later));
}

#[test]
fn closing_an_unknown_connection_changes_nothing() {
    let registry = Registry::default();
    assert_eq!(registry.disconnect(someone()), None);
    assert_eq!(registry.online_count(), 0);
}

#[test]
fn online_counts_are_per_tenant_and_role_and_count_people_not_devices() {
    let registry = Registry::default();
    let other = TenantId(uuid::Uuid::max());
    let (a, b, c) = (someone(), someone(), someone());
    registry.connect(a, TENANT, Role::User);
    registry.connect(a, TENANT, Role::User);
    registry.connect(b, TENANT, Role::Astrologer);
    registry.connect(c, other, Role::User);
    let counts = registry.online_by_role(TENANT);
    assert_eq!(counts.get(&Role::User), Some(&1));
    assert_eq!(counts.get(&Role::Astrologer), Some(&1));
    assert_eq!(counts.get(&Role::Admin), None);
    assert_eq!(registry.online_by_role(other).get(&Role::User), Some(&1));
    // The counts follow who comes and goes: online through the grace.
    registry.disconnect(a);
    let generation = registry.disconnect(a).unwrap();
    assert_eq!(registry.online_by_role(TENANT).get(&Role::User), Some(&1));
    registry.expire(a, generation);
    assert_eq!(registry.online_by_role(TENANT).get(&Role::User), None);
    assert_eq!(registry.online_by_role(other).get(&Role::User), Some(&1));
}
