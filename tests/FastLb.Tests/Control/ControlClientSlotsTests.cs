using FastLb.Host.Control;
using Xunit;

namespace FastLb.Tests.Control;

public class ControlClientSlotsTests
{
    private const int Owner = 1000;

    [Fact]
    public void TryEnter_OneUidPastItsLimit_RefusedWhileOthersStillEnter()
    {
        var slots = new ControlClientSlots(Owner, shared: 16, perUid: 8, reserve: 4);
        for (var i = 0; i < 8; i++) Assert.Null(slots.TryEnter(2000));

        Assert.Equal("too many control connections from uid 2000 (at most 8 at once)", slots.TryEnter(2000));
        Assert.Null(slots.TryEnter(2001));
        Assert.Null(slots.TryEnter(Owner));
    }

    [Fact]
    public void TryEnter_SharedSlotsFull_ReserveOnlyForRootAndOwner()
    {
        var slots = new ControlClientSlots(Owner, shared: 4, perUid: 2, reserve: 2);
        Assert.Null(slots.TryEnter(2000));
        Assert.Null(slots.TryEnter(2000));
        Assert.Null(slots.TryEnter(2001));
        Assert.Null(slots.TryEnter(2001));

        Assert.StartsWith("too many control clients", slots.TryEnter(2002));
        Assert.Null(slots.TryEnter(0));     // an emergency rollback as root gets through
        Assert.Null(slots.TryEnter(Owner));
        Assert.StartsWith("too many control clients", slots.TryEnter(Owner)); // the reserve is spent
    }

    [Fact]
    public void TryEnter_Root_NotBoundByThePerUidLimit()
    {
        var slots = new ControlClientSlots(Owner, shared: 16, perUid: 2, reserve: 4);
        for (var i = 0; i < 5; i++) Assert.Null(slots.TryEnter(0));
    }

    [Fact]
    public void Leave_GivesTheSlotBack()
    {
        var slots = new ControlClientSlots(Owner, shared: 1, perUid: 1, reserve: 0);
        Assert.Null(slots.TryEnter(2000));
        Assert.NotNull(slots.TryEnter(2000));
        slots.Leave(2000);

        Assert.Null(slots.TryEnter(2000));
    }
}
