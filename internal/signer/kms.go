package signer

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// KMSAPI is what the signer and the data key need of an AWS KMS client
// (*kms.Client has these methods).
type KMSAPI interface {
	GetPublicKey(ctx context.Context, in *kms.GetPublicKeyInput, opts ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error)
	Sign(ctx context.Context, in *kms.SignInput, opts ...func(*kms.Options)) (*kms.SignOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, opts ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// KMSClient builds a KMS client from the AWS default credential chain (the
// AWS_* environment, shared config files, web identity or an instance
// role). region "" takes it from that chain; endpoint "" is AWS's own, else
// a KMS-compatible endpoint (a VPC endpoint, or local-kms in tests).
func KMSClient(ctx context.Context, region, endpoint string) (*kms.Client, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("configure the AWS KMS client: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("the AWS KMS client has no region: set the KMS region in the configuration, or AWS_REGION")
	}
	return kms.NewFromConfig(cfg, func(o *kms.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}

// KMS signs with an asymmetric AWS KMS key (KeyUsage SIGN_VERIFY, an RSA
// key spec) using RSASSA_PKCS1_V1_5_SHA_256. The private key stays in KMS.
type KMS struct {
	client KMSAPI
	keyID  string
	pub    *rsa.PublicKey
}

// NewKMS checks that keyID (ID, ARN or alias) names an RSA signing key
// that allows RSASSA_PKCS1_V1_5_SHA_256, and reads its public key. GitHub
// generates App keys, so the KMS key holds the App's key imported as
// external key material (an asymmetric key with origin EXTERNAL); the .pem
// is then deleted.
func NewKMS(ctx context.Context, client KMSAPI, keyID string) (*KMS, error) {
	out, err := client.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(keyID)})
	if err != nil {
		return nil, fmt.Errorf("read the public key of KMS key %s: %w (it must be an asymmetric RSA key with key usage SIGN_VERIFY, and this role may kms:GetPublicKey and kms:Sign with it)", keyID, err)
	}
	if out.KeyUsage != types.KeyUsageTypeSignVerify || !slices.Contains(out.SigningAlgorithms, types.SigningAlgorithmSpecRsassaPkcs1V15Sha256) {
		return nil, fmt.Errorf("KMS key %s (%s, %s) cannot sign App JWTs: create an RSA_2048 (or larger) key with key usage SIGN_VERIFY", keyID, out.KeySpec, out.KeyUsage)
	}
	pub, err := x509.ParsePKIXPublicKey(out.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("KMS key %s: its public key does not parse: %w", keyID, err)
	}
	rsaPub, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("KMS key %s is not an RSA key: GitHub App JWTs are RS256", keyID)
	}
	return &KMS{client: client, keyID: keyID, pub: rsaPub}, nil
}

// Sign asks KMS to sign digest, a SHA-256 sum, and checks the answer
// against the public key read at start.
func (k *KMS) Sign(ctx context.Context, digest []byte) ([]byte, error) {
	if len(digest) != 32 {
		return nil, errors.New("signer: the digest must be a SHA-256 sum (32 bytes)")
	}
	out, err := k.client.Sign(ctx, &kms.SignInput{
		KeyId:            aws.String(k.keyID),
		Message:          digest,
		MessageType:      types.MessageTypeDigest,
		SigningAlgorithm: types.SigningAlgorithmSpecRsassaPkcs1V15Sha256,
	})
	if err != nil {
		return nil, fmt.Errorf("sign with KMS key %s: %w", k.keyID, err)
	}
	if err := rsa.VerifyPKCS1v15(k.pub, crypto.SHA256, digest, out.Signature); err != nil {
		return nil, fmt.Errorf("KMS key %s answered a signature its public key does not verify", k.keyID)
	}
	return out.Signature, nil
}

// Public is the KMS key's public half.
func (k *KMS) Public() *rsa.PublicKey { return k.pub }

// DataKey opens a KMS data key: the CiphertextBlob of GenerateDataKey
// (KeySpec AES_256) under a symmetric KMS key, kept in the configuration;
// KMS returns the 32 bytes that seal the ledger. Only KMS can open it.
func DataKey(ctx context.Context, client KMSAPI, ciphertextBlob []byte) ([]byte, error) {
	out, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ciphertextBlob})
	if err != nil {
		return nil, fmt.Errorf("open the ledger's KMS data key: %w (is it the CiphertextBlob of `aws kms generate-data-key --key-spec AES_256`, and may this role kms:Decrypt with that key?)", err)
	}
	if len(out.Plaintext) != 32 {
		return nil, fmt.Errorf("the ledger's KMS data key is %d bytes: generate it with --key-spec AES_256", len(out.Plaintext))
	}
	return out.Plaintext, nil
}
