using Microsoft.Playwright;

namespace MedfusionDicom.Gateway.Tests;

/// <summary>Debian's chromium (scripts/bootstrap installs it), headless, as the browser tests drive it through Playwright.</summary>
internal static class Chromium
{
    public static Task<IBrowser> LaunchAsync(IPlaywright playwright) => playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
    {
        ExecutablePath = "/usr/bin/chromium",
        Headless = true,
        // No GPU here: WebGL on SwiftShader, which chromium offers only when asked.
        Args = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--no-sandbox"],
    });
}
