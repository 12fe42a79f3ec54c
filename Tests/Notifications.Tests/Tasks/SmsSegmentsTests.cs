using Notifications.Queue;
using Notifications.Tasks;

namespace Notifications.Tests.Tasks;

public sealed class SmsSegmentsTests
{
    private const char Telugu = '\u0C24';     // త
    private const char Devanagari = '\u0915'; // क

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 1)]
    [InlineData(160, 1)]
    [InlineData(161, 2)]
    [InlineData(306, 2)]
    [InlineData(307, 3)]
    public void Count_Gsm7_Takes160Alone_Then153APart(int length, int parts)
    {
        var segments = SmsSegments.Count(new string('a', length));

        Assert.Equal(new SmsSegments(SmsEncoding.Gsm7, parts, length), segments);
    }

    [Fact]
    public void Count_Gsm7ExtensionCharacters_TakeTwoUnits()
    {
        Assert.Equal(new SmsSegments(SmsEncoding.Gsm7, 1, 160), SmsSegments.Count(new string('€', 80)));
        Assert.Equal(new SmsSegments(SmsEncoding.Gsm7, 2, 162), SmsSegments.Count(new string('€', 81)));
    }

    [Fact]
    public void Count_NeverSplitsAnEscapePair_AcrossParts()
    {
        // 152 plain septets then '{' (2): the pair does not fit in the first part's last septet.
        var segments = SmsSegments.Count(new string('a', 152) + "{" + new string('a', 10));

        Assert.Equal(SmsEncoding.Gsm7, segments.Encoding);
        Assert.Equal(164, segments.Units);
        Assert.Equal(2, segments.Parts);
        Assert.Equal(3, SmsSegments.Count(new string('a', 152) + "{" + new string('a', 152)).Parts);
    }

    [Theory]
    [InlineData(Telugu, 70, 1)]
    [InlineData(Telugu, 71, 2)]
    [InlineData(Telugu, 134, 2)]
    [InlineData(Telugu, 135, 3)]
    [InlineData(Telugu, 230, 4)]
    [InlineData(Devanagari, 70, 1)]
    [InlineData(Devanagari, 71, 2)]
    [InlineData(Devanagari, 201, 3)]
    [InlineData(Devanagari, 202, 4)]
    public void Count_TeluguAndDevanagari_AreUcs2_70Alone_Then67APart(char letter, int length, int parts)
    {
        Assert.Equal(new SmsSegments(SmsEncoding.Ucs2, parts, length), SmsSegments.Count(new string(letter, length)));
    }

    [Fact]
    public void Count_OneNonGsmCharacter_MakesTheWholeMessageUcs2()
    {
        // A welcome in English with a Telugu name: 100 characters, UCS-2, two parts instead of one.
        var welcome = "Hi " + new string(Telugu, 5) + ", welcome to AI-VERSANT!" + new string(' ', 68);

        Assert.Equal(new SmsSegments(SmsEncoding.Ucs2, 2, 100), SmsSegments.Count(welcome));
    }

    [Fact]
    public void Count_KeepsASurrogatePair_InOnePart()
    {
        // 66 + 2 + 4 = 72 units: concatenated; the emoji does not fit in the first part's last unit.
        var segments = SmsSegments.Count(new string('a', 66) + "😀" + "bbbb");

        Assert.Equal(new SmsSegments(SmsEncoding.Ucs2, 2, 72), segments);
        Assert.Equal(3, SmsSegments.Count(new string('a', 66) + "😀" + new string('b', 66)).Parts);
    }

    [Fact]
    public void Count_WithoutUcs2_CountsOtherCharactersAsTheQuestionMarkTheyBecome()
    {
        Assert.Equal(new SmsSegments(SmsEncoding.Gsm7, 1, 70), SmsSegments.Count(new string(Telugu, 70), allowUcs2: false));
    }

    [Fact]
    public void Validate_RefusesAnSms_LongerThanTheMostPartsSent()
    {
        var fits = NotificationRequest.Sms("+15550001234", new string(Telugu, 67 * SmsSegments.MaxParts));
        var tooLong = NotificationRequest.Sms("+15550001234", new string(Telugu, 67 * SmsSegments.MaxParts + 1));

        NotificationRequestRules.Validate(fits);
        var error = Assert.Throws<InvalidNotificationException>(() => NotificationRequestRules.Validate(tooLong));
        Assert.Contains($"at most {SmsSegments.MaxParts} parts", error.Message);
    }
}
