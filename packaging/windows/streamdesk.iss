; Inno Setup 6 script for the Windows installer of Streamdesk (not built on the Linux CI).
; Build the bundle first (packaging/README.md, "Windows"), then from the repository root:
;   "C:\Program Files (x86)\Inno Setup 6\ISCC.exe" /DAppVersion=0.1.0 packaging\windows\streamdesk.iss
; Output: dist\streamdesk-<version>-windows-x64-setup.exe
; The installer copies dist\streamdesk\ (PyInstaller one-folder bundle: streamdesk.exe windowed,
; streamdesk-cli.exe and streamdesk-stub.exe console, shared _internal\) to Program Files, or to
; the user's profile when installed without admin rights.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "Streamdesk"
#define AppExe "streamdesk.exe"
#define Bundle "..\..\dist\streamdesk"

[Setup]
; Never change AppId: Windows uses it to find the installed version to upgrade or uninstall.
AppId={{98009A93-5251-4A27-A68F-E8EB685BCEE4}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=The Streamdesk developers
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
; Per-user install without admin rights is offered in a dialog.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
; Qt 6 needs Windows 10 1809 or newer.
MinVersion=10.0.17763
OutputDir=..\..\dist
OutputBaseFilename=streamdesk-{#AppVersion}-windows-x64-setup
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
UninstallDisplayIcon={app}\{#AppExe}
#ifexist "..\..\build\icons\streamdesk.ico"
SetupIconFile=..\..\build\icons\streamdesk.ico
#endif

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#Bundle}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[InstallDelete]
; A new version may ship fewer files: never let old Qt DLLs linger next to new ones.
Type: filesandordirs; Name: "{app}\_internal"

[Icons]
; The AppUserModelID ties taskbar pins and notifications to the app (same id as on Linux).
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExe}"; AppUserModelID: "io.streamdesk.Streamdesk"
Name: "{group}\Third-party licences"; Filename: "{app}\THIRD-PARTY-LICENSES.txt"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon; AppUserModelID: "io.streamdesk.Streamdesk"

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent
