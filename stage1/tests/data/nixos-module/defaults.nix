# Option values for the "defaults" render case: what a minimal configuration
# sets (see nixos-module/render-config.nix).  The expected file is defaults.conf.
{
  substituters = [ "s3://my-nix-cache?region=eu-central-1" ];
  trustedPublicKeys = [ "my-cache-1:rYqs8g7W2FzmO6N07LVwSdpHXDOmP0FfIpzXsT0nDlk=" ];
  builtinKernel = "/nix/store/0ahcn2x4l5kxxpmhxgyg4gyc8dcfxdc2-linux-6.12.30/bzImage";
}
